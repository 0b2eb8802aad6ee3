"""Celery tasks of the schools app; each only calls a service."""

from celery import shared_task

from . import imports


@shared_task(name="schools.tasks.run_import_job")
def run_import_job(job_id: int) -> str:
    """Run a background roster import (``imports.import_job_run``); returns the job's final status.

    Queued by ``imports.import_job_create`` when its transaction commits; a job already run (a
    redelivered message) is left alone.
    """
    return imports.import_job_run(job_id)
