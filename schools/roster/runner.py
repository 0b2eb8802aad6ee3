"""Runs a background roster import (``ImportJob``) with the resource of its kind.

A job checks every row of its file with the same resource the admin uses (``schools.roster``),
in memory and without writing, saving ``processed_rows`` every ``IMPORT_JOB_CHUNK_SIZE`` rows so
the admin shows the progress; then, if no row failed, it writes all rows (and deactivates the
students missing from the file, if asked) in one short transaction, which also marks the job done.
A file with any error writes nothing and the job lists the errors; so does a refusal just before
the write (WeChat refusing a device group change: the resource's ``before_write`` raises
``ApplicationError``).

A worker that dies mid-job (killed, out of memory, its machine gone) leaves nothing written and
the job ``running``: while a job runs, a thread of its worker sets ``heartbeat_at`` every
``IMPORT_JOB_HEARTBEAT_SECONDS``, and ``import_jobs_recover`` (beat, every minute) runs a job whose
heartbeat is older than ``IMPORT_JOB_STALE_SECONDS`` again from the start, or, after
``IMPORT_JOB_MAX_ATTEMPTS`` runs, fails it with that reason: no job stays ``running``. Each run is
fenced by its ``attempts`` number: a run that was taken over (its worker only paused) can neither
beat, nor write, nor finish the job.

On PostgreSQL a kind with a COPY importer (students: ``contacts.roster_copy``) runs the same steps
with the file streamed into a staging table and checked and written in SQL
(``schools.roster.copy``), under the school's roster lock so that two imports of one school run
one after the other: same rules, same totals and errors, all or nothing, memory that does not grow
with the file (``IMPORT_JOB_COPY``; a file whose header the resource reports on goes to it).
"""

import logging
import threading
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from schools.models import ImportJob
from schools.roster.copy import ConcurrentWrite, CopyUnsupported, copy_importer_for
from schools.roster.errors import result_errors
from schools.roster.formats import read_dataset
from schools.roster.resources import resource_for

logger = logging.getLogger(__name__)

RUN_TASK = "schools.tasks.run_import_job"  # named: schools.roster.tasks imports this module
COPY_CHECKS = 3  # a COPY import checks its file again after a concurrent write, at most this many times


class _Superseded(Exception):
    """This run's job was taken over by another run (``attempts`` moved on): its write is rolled back."""


def _stale_before(now):
    return now - timedelta(seconds=settings.IMPORT_JOB_STALE_SECONDS)


def _claimable(now) -> Q:
    """Pending, or running with a heartbeat older than ``IMPORT_JOB_STALE_SECONDS`` (its worker died)."""
    return Q(status=ImportJob.Status.PENDING) | Q(status=ImportJob.Status.RUNNING, beat__lt=_stale_before(now))


def _jobs():
    return ImportJob.objects.alias(beat=Coalesce("heartbeat_at", "created_at"))


def import_job_run(job_id: int) -> str:
    """Run a pending job, or take over one whose worker died (stale heartbeat); returns its status.

    A job that is done, failed, or running with a live heartbeat is left alone (a redelivered
    task does nothing). A job already started ``IMPORT_JOB_MAX_ATTEMPTS`` times is not run again:
    ``import_jobs_recover`` fails it.
    """
    now = timezone.now()
    claimed = (
        _jobs()
        .filter(_claimable(now), pk=job_id, attempts__lt=settings.IMPORT_JOB_MAX_ATTEMPTS)
        .update(status=ImportJob.Status.RUNNING, attempts=F("attempts") + 1, heartbeat_at=now)
    )
    if not claimed:
        job = ImportJob.objects.filter(pk=job_id).only("status").first()
        return job.status if job else ""
    job = ImportJob.objects.select_related("school", "created_by").defer("data").get(pk=job_id)
    if job.attempts > 1:
        logger.warning("import job %s: run %d, from the start (the previous worker stopped)", job_id, job.attempts)
    mine = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.RUNNING, attempts=job.attempts)
    heartbeat = _Heartbeat(mine)
    heartbeat.start()
    try:
        status, totals, errors = _run(job, mine)
    except _Superseded:
        logger.warning("import job %s: run %d was taken over by a later run; nothing written", job_id, job.attempts)
        return ImportJob.objects.filter(pk=job_id).only("status").get().status
    except Exception as exc:  # the job records the failure; the worker goes on
        logger.exception("import job %s failed", job_id)
        status, totals, errors = (
            ImportJob.Status.FAILED,
            {},
            [{"row": None, "error": _("Import failed: %(error)s") % {"error": type(exc).__name__}}],
        )
    finally:
        heartbeat.stop()
    if status != ImportJob.Status.DONE:  # done was written with the rows (_run)
        _finish(mine, status, totals, errors)
    return status


def _finish(mine, status: str, totals: dict, errors: list) -> bool:
    """End this run's job; False if another run took it over."""
    return bool(
        mine.update(
            status=status, totals=totals, errors=errors, finished_at=timezone.now(), heartbeat_at=None, data=b""
        )
    )


class _Heartbeat:
    """Sets the job's ``heartbeat_at`` every ``IMPORT_JOB_HEARTBEAT_SECONDS`` from a thread (with its
    own database connection), whatever the run is doing: reading, checking rows or writing."""

    def __init__(self, mine):
        self.mine = mine
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="import-job-heartbeat", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=settings.IMPORT_JOB_HEARTBEAT_SECONDS + 5)

    def _beat(self):
        try:
            while not self.stopped.wait(settings.IMPORT_JOB_HEARTBEAT_SECONDS):
                try:
                    self.mine.update(heartbeat_at=timezone.now())
                except Exception:  # the database is briefly away: the next beat may reach it
                    logger.warning("import job heartbeat failed", exc_info=True)
        finally:
            connection.close()


def _progress(mine):
    def report(rows: int):
        mine.update(processed_rows=rows, heartbeat_at=timezone.now())

    return report


def _no_rows() -> tuple[str, dict, list]:
    return ImportJob.Status.FAILED, {}, [{"row": None, "error": _("The file has no rows.")}]


def _run(job: ImportJob, mine) -> tuple[str, dict, list]:
    importer_class = copy_importer_for(job.kind)
    if importer_class is not None and settings.IMPORT_JOB_COPY and connection.vendor == "postgresql":
        try:
            return _run_copy(job, mine, importer_class)
        except CopyUnsupported:
            pass  # a header the resource reports on
    return _run_resource(job, mine)


def _run_copy(job: ImportJob, mine, importer_class) -> tuple[str, dict, list]:
    """The COPY import (``schools.roster.copy``): stage the file, then check and write it in one
    transaction under the school's roster lock."""
    importer = importer_class(
        school=job.school,
        job_id=job.pk,
        file_format=job.file_format,
        deactivate_missing=job.deactivate_missing,
        user=job.created_by,
        file_name=job.file_name,
    )
    with importer:
        # No transaction while staging: each progress update commits at once.
        total = importer.stage(progress=_progress(mine), every=settings.IMPORT_JOB_CHUNK_SIZE)
        mine.update(total_rows=total, processed_rows=total)
        if not total:
            return _no_rows()
        for check in range(1, COPY_CHECKS + 1):
            try:
                with transaction.atomic():
                    importer.begin()
                    totals, errors = importer.check()
                    if errors:
                        return ImportJob.Status.FAILED, totals, errors
                    totals["deactivated"] = importer.write()
                    # Done with the rows, in their transaction: a job is done if and only if they are written.
                    if not _finish(mine, ImportJob.Status.DONE, totals, []):
                        raise _Superseded
                return ImportJob.Status.DONE, totals, []
            except ConcurrentWrite:
                logger.warning("import job %s: a student was written meanwhile; checking again (%d)", job.pk, check)
        raise ConcurrentWrite


def _run_resource(job: ImportJob, mine) -> tuple[str, dict, list]:
    dataset = read_dataset(bytes(job.data), job.file_format)
    total = len(dataset)
    mine.update(total_rows=total, processed_rows=0)
    if not total:
        return _no_rows()

    resource = resource_for(job.kind)(
        school=job.school,
        deactivate_missing=job.deactivate_missing,
        defer_writes=True,
        progress=_progress(mine),
        progress_every=settings.IMPORT_JOB_CHUNK_SIZE,
    )
    kwargs = {"user": job.created_by, "file_name": job.file_name}
    # No transaction and nothing written while checking: each progress update commits at once.
    result = resource.import_data(dataset, dry_run=False, use_transactions=False, raise_errors=False, **kwargs)
    mine.update(processed_rows=total)
    totals = {key: result.totals[key] for key in ("new", "update", "skip", "invalid", "error")}
    if result.has_errors() or result.has_validation_errors():
        return ImportJob.Status.FAILED, totals, result_errors(result)

    try:
        with transaction.atomic():
            totals["deactivated"] = resource.flush()
            # Done with the rows, in their transaction: a job is done if and only if they are written.
            if not _finish(mine, ImportJob.Status.DONE, totals, []):
                raise _Superseded
    except ApplicationError as exc:  # refused before the write (WeChat): rolled back, nothing written
        return ImportJob.Status.FAILED, totals, [{"row": None, "error": str(exc.message)}]
    return ImportJob.Status.DONE, totals, []


def import_jobs_recover(*, now=None) -> dict:
    """Beat, every minute: no job stays ``running`` (or ``pending``) for ever.

    A running job whose heartbeat is older than ``IMPORT_JOB_STALE_SECONDS`` (its worker died), and
    a pending job older than that (its message was lost: a broker restart), is queued again and
    runs from the start (``import_job_run``); one already started ``IMPORT_JOB_MAX_ATTEMPTS`` times
    is failed with that reason instead. Returns ``{"queued": [ids], "failed": [ids]}``.
    """
    now = now or timezone.now()
    stuck = (
        _jobs()
        .filter(_claimable(now))
        .filter(Q(status=ImportJob.Status.RUNNING) | Q(created_at__lt=_stale_before(now)))
    )
    worn = stuck.filter(attempts__gte=settings.IMPORT_JOB_MAX_ATTEMPTS)
    failed = []
    for job_id, attempts in worn.values_list("pk", "attempts"):
        error = _(
            "The import stopped without finishing %(attempts)d times (the worker running it stopped); "
            "upload the file again."
        ) % {"attempts": attempts}
        if (
            _jobs()
            .filter(_claimable(now), pk=job_id, attempts=attempts)
            .update(
                status=ImportJob.Status.FAILED,
                errors=[{"row": None, "error": error}],
                finished_at=now,
                heartbeat_at=None,
                data=b"",
            )
        ):
            logger.warning("import job %s failed: stopped %d times", job_id, attempts)
            failed.append(job_id)
    queued = list(stuck.filter(attempts__lt=settings.IMPORT_JOB_MAX_ATTEMPTS).values_list("pk", flat=True))
    for job_id in queued:
        logger.warning("import job %s: its worker stopped; queued again", job_id)
        current_app.signature(RUN_TASK, args=(job_id,)).apply_async()
    return {"queued": queued, "failed": failed}
