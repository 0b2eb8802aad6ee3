"""Celery tasks of the schools app (found by Celery's autodiscovery); each only calls a service."""

import math

from celery import shared_task
from django.utils import timezone

from schools.models import WebhookDelivery
from schools.roster.tasks import recover_import_jobs, run_import_job
from schools.services.api_clients import api_access_tokens_purge
from schools.services.device_groups import device_groups_reconcile_all
from schools.services.events import outbox_sweep, webhook_deliver

__all__ = [
    "deliver_webhook",
    "purge_expired_api_tokens",
    "reconcile_device_groups",
    "recover_import_jobs",
    "run_import_job",
    "sweep_outbox",
]


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


@shared_task(name="schools.tasks.deliver_webhook", bind=True, max_retries=None, acks_late=True)
def deliver_webhook(self, delivery_id: int) -> str:
    """Send one webhook delivery (``webhook_deliver``); on failure Celery retries it when the service
    says (exponential backoff with full jitter), until it is delivered or dead. Idempotent: a
    repeated or early message sends nothing. Returns the delivery's state."""
    delivery, sent = webhook_deliver(delivery_id=delivery_id)
    if delivery is None:
        return "gone"
    if sent and delivery.state == WebhookDelivery.State.PENDING:
        countdown = math.ceil((delivery.next_attempt_at - timezone.now()).total_seconds()) + 1  # never early
        raise self.retry(countdown=countdown)
    return delivery.state


@shared_task(name="schools.tasks.sweep_outbox")
def sweep_outbox() -> int:
    """Beat, every minute: positions for new events, and every due delivery whose message was lost
    queued again (``outbox_sweep``); returns how many were queued."""
    return outbox_sweep()
