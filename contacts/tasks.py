"""Celery tasks of the contacts app; each only calls a service."""

from celery import shared_task

from contacts.services.parents import parent_tokens_purge
from contacts.services.reconciliation import bindings_reconcile, bindings_reconcile_due
from contacts.services.share_links import share_links_expire
from core.wechat.client import WeChatUnavailable


@shared_task(name="contacts.tasks.expire_share_links")
def expire_share_links() -> int:
    """Beat, every minute: mark share links past ``expires_at`` as expired; returns how many.

    In short batches (``SHARE_LINK_EXPIRY_BATCH``); idempotent and safe when two runs overlap
    (``share_links_expire``).
    """
    return share_links_expire()


@shared_task(name="contacts.tasks.purge_expired_tokens")
def purge_expired_tokens() -> int:
    """Beat, hourly: delete parents' bearer tokens expired or revoked over a day ago; returns how many."""
    return parent_tokens_purge()


@shared_task(
    name="contacts.tasks.reconcile_student_bindings",
    autoretry_for=(WeChatUnavailable,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=6,
)
def reconcile_student_bindings(student_id: int) -> int:
    """Soon after a report (debounced): bring one student's contacts into line with WeChat's list
    (``bindings_reconcile``); returns how many changes it made. Retried with backoff while WeChat is
    busy or unreachable."""
    return len(bindings_reconcile(student_id=student_id)["changes"])


@shared_task(name="contacts.tasks.reconcile_bindings_due")
def reconcile_bindings_due() -> int:
    """Beat, every minute: the rolling check of every active student against WeChat, spread over
    ``WECHAT_RECONCILE_PERIOD_HOURS`` (``bindings_reconcile_due``); returns how many were checked."""
    return bindings_reconcile_due()
