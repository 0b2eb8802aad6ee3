"""School staff's and the platform's side of webhooks: receivers, their secrets, redelivery.

Each service checks its acting user (``schools.tenancy``) and writes its audit row. The outbox and
the deliveries themselves are ``schools.services.events``.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from schools.models import AuditLog, WebhookDelivery, WebhookEndpoint
from schools.services.audit import audit_log_record
from schools.services.events import deliveries_queue, webhook_secret, webhook_url_check
from schools.tenancy import SYSTEM, staff_check, staff_check_platform


@transaction.atomic
def webhook_endpoint_create(
    *, url: str, school=None, client=None, is_active: bool = True, actor_user=SYSTEM
) -> tuple[WebhookEndpoint, str]:
    """A receiver of ``school``'s events (its administrators may) or of ``client``'s schools' events
    (the platform's), switched on unless ``is_active`` is false; returns ``(endpoint, secret)``, the
    secret shown once. Audited."""
    if client is not None:
        staff_check_platform(actor_user)
    else:
        staff_check(actor_user, school_ids=[school.pk])
    webhook_url_check(url)
    endpoint = WebhookEndpoint.objects.create(url=url, school=school, client=client, is_active=is_active)
    _audit_endpoint(endpoint, AuditLog.Action.WEBHOOK_SECRET_ISSUED, actor_user)
    return endpoint, webhook_secret(endpoint)


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, url: str, is_active: bool, actor_user=SYSTEM
) -> WebhookEndpoint:
    """Change the receiver's ``url`` (checked as on creation) or switch it off; an inactive endpoint
    gets no new deliveries (those queued still go). Audited with the old and new values."""
    _endpoint_check(endpoint, actor_user)
    webhook_url_check(url)
    before = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.url, endpoint.is_active = url, is_active
    endpoint.save(update_fields=["url", "is_active"])
    audit_log_record(
        action=AuditLog.Action.WEBHOOK_ENDPOINT_CHANGED,
        school=endpoint.school,
        actor_user=actor_user,
        data={
            "client": endpoint.client_id,
            "url": [before.url, url],
            "is_active": [before.is_active, is_active],
        },
    )
    return endpoint


@transaction.atomic
def webhook_secret_rotate(*, endpoint: WebhookEndpoint, actor_user=SYSTEM) -> str:
    """A new signing secret for ``endpoint`` (the old one stops at once); returns it, shown once."""
    _endpoint_check(endpoint, actor_user)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_version=F("secret_version") + 1)
    endpoint.refresh_from_db(fields=["secret_version"])
    _audit_endpoint(endpoint, AuditLog.Action.WEBHOOK_SECRET_ISSUED, actor_user)
    return webhook_secret(endpoint)


@transaction.atomic
def webhook_deliveries_redeliver(*, deliveries, actor_user=SYSTEM) -> int:
    """Send ``deliveries`` (rows or a queryset) again now, whatever their state (a receiver that lost
    them, or a dead letter); each keeps its event id, so the receiver can tell a repeat. Returns how
    many were queued."""
    rows = list(WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).select_related("event__school"))
    staff_check(actor_user, school_ids={d.event.school_id for d in rows})
    now = timezone.now()
    WebhookDelivery.objects.filter(pk__in=[d.pk for d in rows]).update(
        state=WebhookDelivery.State.PENDING, next_attempt_at=now, attempts=0, delivered_at=None
    )
    ids = [d.pk for d in rows]
    for school in {d.event.school for d in rows}:
        audit_log_record(
            action=AuditLog.Action.WEBHOOK_REDELIVERED,
            school=school,
            actor_user=actor_user,
            data={"deliveries": [d.pk for d in rows if d.event.school_id == school.pk]},
        )
    transaction.on_commit(lambda: deliveries_queue(ids))
    return len(ids)


def _endpoint_check(endpoint: WebhookEndpoint, actor_user) -> None:
    if endpoint.client_id is not None:
        staff_check_platform(actor_user)
    else:
        staff_check(actor_user, school_ids=[endpoint.school_id])


def _audit_endpoint(endpoint: WebhookEndpoint, action: str, actor_user) -> None:
    audit_log_record(
        action=action,
        school=endpoint.school,
        actor_user=actor_user,
        data={"url": endpoint.url, "client": endpoint.client_id, "secret_version": endpoint.secret_version},
    )
