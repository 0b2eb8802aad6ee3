"""Runs a background roster import (``ImportJob``) with the resource of its kind.

A job checks every row of its file with the same resource the admin uses (``schools.roster``),
in memory and without writing, saving ``processed_rows`` every ``IMPORT_JOB_CHUNK_SIZE`` rows so
the admin shows the progress; then, if no row failed, it writes all rows (and deactivates the
students missing from the file, if asked) in one short transaction. A file with any error writes
nothing and the job lists the errors; so does a refusal just before the write (WeChat refusing a
device group change: the resource's ``before_write`` raises ``ApplicationError``).
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from schools.models import ImportJob
from schools.roster.errors import result_errors
from schools.roster.formats import read_dataset
from schools.roster.resources import resource_for

logger = logging.getLogger(__name__)


def import_job_run(job_id: int) -> str:
    """Run a pending job; returns its final status. A job that is not pending (already run, or
    running elsewhere) is left alone, so a redelivered task does nothing."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING
    )
    if not claimed:
        job = ImportJob.objects.filter(pk=job_id).only("status").first()
        return job.status if job else ""
    job = ImportJob.objects.select_related("school", "created_by").get(pk=job_id)
    try:
        status, totals, errors = _run(job)
    except Exception as exc:  # the job records the failure; the worker goes on
        logger.exception("import job %s failed", job_id)
        status, totals, errors = (
            ImportJob.Status.FAILED,
            {},
            [{"row": None, "error": _("Import failed: %(error)s") % {"error": type(exc).__name__}}],
        )
    ImportJob.objects.filter(pk=job_id).update(
        status=status, totals=totals, errors=errors, finished_at=timezone.now(), data=b""
    )
    return status


def _progress(job_id: int):
    def report(rows: int):
        ImportJob.objects.filter(pk=job_id).update(processed_rows=rows)

    return report


def _run(job: ImportJob) -> tuple[str, dict, list]:
    dataset = read_dataset(bytes(job.data), job.file_format)
    total = len(dataset)
    ImportJob.objects.filter(pk=job.pk).update(total_rows=total, processed_rows=0)
    if not total:
        return ImportJob.Status.FAILED, {}, [{"row": None, "error": _("The file has no rows.")}]

    resource = resource_for(job.kind)(
        school=job.school,
        deactivate_missing=job.deactivate_missing,
        defer_writes=True,
        progress=_progress(job.pk),
        progress_every=settings.IMPORT_JOB_CHUNK_SIZE,
    )
    kwargs = {"user": job.created_by, "file_name": job.file_name}
    # No transaction and nothing written while checking: each progress update commits at once.
    result = resource.import_data(dataset, dry_run=False, use_transactions=False, raise_errors=False, **kwargs)
    ImportJob.objects.filter(pk=job.pk).update(processed_rows=total)
    totals = {key: result.totals[key] for key in ("new", "update", "skip", "invalid", "error")}
    if result.has_errors() or result.has_validation_errors():
        return ImportJob.Status.FAILED, totals, result_errors(result)

    try:
        with transaction.atomic():
            totals["deactivated"] = resource.flush()
    except ApplicationError as exc:  # refused before the write (WeChat): rolled back, nothing written
        return ImportJob.Status.FAILED, totals, [{"row": None, "error": str(exc.message)}]
    return ImportJob.Status.DONE, totals, []
