"""The Celery tasks of background roster imports (registered by ``schools.tasks``)."""

from celery import shared_task

from schools.roster.runner import import_job_run, import_jobs_recover


@shared_task(name="schools.tasks.run_import_job", acks_late=True)
def run_import_job(job_id: int) -> str:
    """Run a background roster import (``schools.roster.runner.import_job_run``); returns the job's final status.

    Queued by ``schools.roster.jobs.import_job_create`` when its transaction commits, and again by
    ``recover_import_jobs`` for a job whose worker died; a job already run, or running with a live
    heartbeat (a redelivered message), is left alone.
    """
    return import_job_run(job_id)


@shared_task(name="schools.tasks.recover_import_jobs")
def recover_import_jobs() -> dict:
    """Beat, every minute: run again the jobs whose worker died (stale heartbeat) or whose message was
    lost, or fail them after ``IMPORT_JOB_MAX_ATTEMPTS`` runs (``import_jobs_recover``); returns
    ``{"queued": [ids], "failed": [ids]}``."""
    return import_jobs_recover()
