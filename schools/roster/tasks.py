"""The Celery task of background roster imports (registered by ``schools.tasks``)."""

from celery import shared_task

from schools.roster.runner import import_job_run


@shared_task(name="schools.tasks.run_import_job")
def run_import_job(job_id: int) -> str:
    """Run a background roster import (``schools.roster.runner.import_job_run``); returns the job's final status.

    Queued by ``schools.roster.jobs.import_job_create`` when its transaction commits; a job
    already run (a redelivered message) is left alone.
    """
    return import_job_run(job_id)
