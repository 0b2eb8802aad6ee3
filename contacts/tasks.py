"""Celery tasks of the contacts app; each only calls a service."""

from celery import shared_task

from contacts.services.parents import parent_tokens_purge
from contacts.services.share_links import share_links_expire


@shared_task(name="contacts.tasks.expire_share_links")
def expire_share_links() -> int:
    """Beat, every minute: mark share links past ``expires_at`` as expired; returns how many.

    One UPDATE; idempotent and safe when two runs overlap (``share_links_expire``).
    """
    return share_links_expire()


@shared_task(name="contacts.tasks.purge_expired_tokens")
def purge_expired_tokens() -> int:
    """Beat, hourly: delete parents' bearer tokens expired or revoked over a day ago; returns how many."""
    return parent_tokens_purge()
