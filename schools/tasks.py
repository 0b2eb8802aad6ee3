"""Celery tasks of the schools app (found by Celery's autodiscovery); each only calls a service."""

from celery import shared_task

from schools.roster.tasks import run_import_job
from schools.services.api_clients import api_access_tokens_purge
from schools.services.device_groups import device_groups_reconcile_all

__all__ = ["purge_expired_api_tokens", "reconcile_device_groups", "run_import_job"]


@shared_task(name="schools.tasks.purge_expired_api_tokens")
def purge_expired_api_tokens() -> int:
    """Beat, hourly: delete vendors' access tokens expired over a day ago; returns how many.

    Kept a day after expiry so that a late request still answers 42001 (expired), not 40001.
    """
    return api_access_tokens_purge()


@shared_task(name="schools.tasks.reconcile_device_groups")
def reconcile_device_groups() -> int:
    """Beat, daily at 03:30: read every device group back from WeChat (``device_groups_reconcile_all``);
    returns how many were read. A group WeChat refuses is logged and passed over; WeChat busy or
    unreachable ends the run, and the next one starts with the groups it did not read."""
    return device_groups_reconcile_all()
