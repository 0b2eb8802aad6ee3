"""Background roster imports: ``ImportJob`` rows that Celery runs (``schools.tasks.run_import_job``).

The admin's import sends files of more than ``IMPORT_ASYNC_ROW_THRESHOLD`` rows here;
``schools.roster.runner`` checks and writes them (one transaction, or nothing).
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from schools.models import ImportJob, School
from schools.roster.tasks import run_import_job


def import_job_create(
    *,
    school: School,
    kind: str,
    file_name: str,
    file_format: str,
    data: bytes,
    deactivate_missing: bool = False,
    created_by=None,
    total_rows: int = 0,
) -> ImportJob:
    """Store an uploaded roster file as a pending job; the task is queued when the transaction commits."""
    job = ImportJob.objects.create(
        school=school,
        kind=kind,
        file_name=file_name[:255],
        file_format=file_format,
        data=data,
        deactivate_missing=deactivate_missing and kind == ImportJob.Kind.STUDENTS,
        created_by=created_by,
        total_rows=total_rows,
    )

    def enqueue():
        try:
            run_import_job.delay(job.pk)
        except Exception:  # no broker: say so on the job rather than leave it pending
            error = [{"row": None, "error": _("The task queue is unavailable; upload the file again later.")}]
            ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PENDING).update(
                status=ImportJob.Status.FAILED, errors=error, finished_at=timezone.now(), data=b""
            )
            raise

    transaction.on_commit(enqueue)
    return job
