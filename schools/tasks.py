"""Celery tasks of the schools app (found by Celery's autodiscovery); each only calls a service."""

from celery import shared_task

from schools.roster.tasks import run_import_job
from schools.services.api_clients import api_access_tokens_purge

__all__ = ["purge_expired_api_tokens", "run_import_job"]


@shared_task(name="schools.tasks.purge_expired_api_tokens")
def purge_expired_api_tokens() -> int:
    """Beat, hourly: delete vendors' access tokens expired over a day ago; returns how many.

    Kept a day after expiry so that a late request still answers 42001 (expired), not 40001.
    """
    return api_access_tokens_purge()
