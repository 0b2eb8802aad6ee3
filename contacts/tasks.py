"""Celery tasks of the contacts app; each only calls a service."""

from celery import shared_task

from schools.services import api_access_tokens_purge

from . import services


@shared_task(name="contacts.tasks.expire_share_links")
def expire_share_links() -> int:
    """Beat, every minute: mark share links past ``expires_at`` as expired; returns how many.

    One UPDATE; idempotent and safe when two runs overlap (``services.share_links_expire``).
    """
    return services.share_links_expire()


@shared_task(name="contacts.tasks.purge_expired_tokens")
def purge_expired_tokens() -> int:
    """Beat, hourly: delete parents' tokens and API access tokens expired over a day ago; returns how many."""
    return services.parent_tokens_purge() + api_access_tokens_purge()
