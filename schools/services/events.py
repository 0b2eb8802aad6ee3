"""Events that are never lost: a transactional outbox, signed webhooks, and a cursor for vendors.

Every bindContact outcome, every contact change (the audit rows of ``EVENT_OF_ACTION``) and every
finished call writes an ``OutboxEvent`` in the transaction of the change (``event_emit``), with
one ``WebhookDelivery`` per active endpoint of the school (its own, and those of the API clients
granted it). When the transaction commits, each delivery is queued (Celery); ``outbox_sweep``
(beat, every minute) gives positions to events that have none and queues every delivery that is
due and was not sent, so a broker or worker outage delays delivery and loses nothing. Vendors who cannot receive
webhooks page through the same events (``schools.selectors.events_page``).

A delivery POSTs the event as JSON with ``X-Portal-Event-Id`` (the receiver's idempotency key),
``X-Portal-Event`` (its type) and ``X-Portal-Signature: t=<unix seconds>,v1=<hex>`` where ``v1``
is HMAC-SHA256 of ``"<t>.<body>"`` under the endpoint's secret (``webhook_signature_verify``
checks one, within ``WEBHOOK_SIGNATURE_TOLERANCE`` seconds). A 2xx answer delivers it; anything
else is retried with exponential backoff and full jitter (``WEBHOOK_BACKOFF_SECONDS`` doubling up
to ``WEBHOOK_BACKOFF_MAX_SECONDS``) until ``WEBHOOK_MAX_ATTEMPTS``, then the delivery is ``dead``
until staff redeliver it. Receivers at private or loopback addresses are refused unless
``WEBHOOK_ALLOW_PRIVATE`` (local development, tests): a school cannot aim the portal inward.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from celery import current_app
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from core.prepared import prepared
from schools.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from schools.selectors import event_payload

logger = logging.getLogger(__name__)

DELIVER_TASK = "schools.tasks.deliver_webhook"
POSITION_LOCK = 7_100_000_001  # pg_advisory_xact_lock key: one position writer at a time
ERROR_MAX = 500  # characters of an error kept on the delivery

# --- Writing events ------------------------------------------------------------------------------


def events_emit(
    items: list[tuple[int, str, dict, datetime]], *, audit_log_ids: list[int] | None = None
) -> list[OutboxEvent]:
    """Write events ``[(school_id, type, data, time)]`` and their deliveries, in bulk; call inside the
    change's transaction. ``data`` is JSON-able (dates become ISO strings); ``audit_log_ids`` (one per
    item) ties each event to the audit row it tells. The deliveries are queued when the transaction
    commits (and by ``outbox_sweep`` if that is lost)."""
    if not items:
        return []
    audit_log_ids = audit_log_ids or [None] * len(items)
    events = OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                event_id=uuid.uuid4(),
                school_id=school_id,
                type=type_,
                data=_jsonable(data),
                created_at=at,
                audit_log_id=audit_log_id,
            )
            for (school_id, type_, data, at), audit_log_id in zip(items, audit_log_ids, strict=True)
        ]
    )
    receivers: dict[int, list[int]] = defaultdict(list)  # school pk → endpoint pks
    for endpoint_id, school_id in _receivers(school_ids=sorted({event.school_id for event in events})):
        receivers[school_id].append(endpoint_id)
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, endpoint_id=endpoint_id, next_attempt_at=event.created_at)
            for event in events
            for endpoint_id in receivers[event.school_id]
        ]
    )
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: deliveries_queue(ids))
    return events


@prepared
def _receivers(*, school_ids: list[int]) -> QuerySet:
    # Compiled once per connection and number of schools: every audited change asks (bench/bind.py).
    return WebhookEndpoint.objects.receiving(school_ids)


def event_emit(*, school_id: int, type: str, data: dict, now: datetime | None = None) -> OutboxEvent:
    """Write one event of ``school_id`` (``events_emit``); call inside the change's transaction."""
    return events_emit([(school_id, type, data, now or timezone.now())])[0]


def _jsonable(data: dict) -> dict:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def deliveries_queue(delivery_ids: list[int]) -> None:
    """Give new events positions and queue ``delivery_ids`` (on commit); a lost message is the sweeper's."""
    try:
        outbox_positions_assign()
        for delivery_id in delivery_ids:
            current_app.signature(DELIVER_TASK, args=(delivery_id,)).apply_async()
    except Exception:
        logger.warning("could not queue webhook deliveries %s; the outbox sweeper will", delivery_ids, exc_info=True)


@transaction.atomic
def outbox_positions_assign() -> int:
    """Give the committed events without a position the next positions, in id order, one writer at
    a time (a PostgreSQL advisory lock), so positions follow commit order: a vendor paging by
    position never skips an event that commits later. Returns how many were given."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [POSITION_LOCK])
    waiting = _waiting_events()
    if not waiting:
        return 0
    last = (_last_position() or [0])[0]
    if len(waiting) == 1:  # the usual case, after each change's commit: no CASE to build
        OutboxEvent.objects.filter(pk=waiting[0]).update(position=last + 1)
        return 1
    events = [OutboxEvent(pk=event_id, position=last + offset) for offset, event_id in enumerate(waiting, start=1)]
    OutboxEvent.objects.bulk_update(events, ["position"], batch_size=1000)
    return len(events)


# Read after every change's commit (bench/bind.py): compiled once per connection.
@prepared
def _waiting_events() -> QuerySet:
    return OutboxEvent.objects.filter(position__isnull=True).order_by("id").values_list("id", flat=True)


@prepared
def _last_position() -> QuerySet:
    given = OutboxEvent.objects.filter(position__isnull=False)
    return given.order_by("-position").values_list("position", flat=True)[:1]  # max(position), by its index


# --- Delivering ----------------------------------------------------------------------------------


def webhook_secret(endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret (64 hex characters), derived from ``SECRET_KEY``, the endpoint
    and its ``secret_version``: never stored, shown to staff once when issued."""
    message = f"portal-webhook:{endpoint.pk}:{endpoint.secret_version}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def webhook_signature(*, secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Portal-Signature`` header of ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_signature_verify(*, secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """What a receiver checks: the signature is ours and at most ``WEBHOOK_SIGNATURE_TOLERANCE``
    seconds old (a replayed request is refused)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > settings.WEBHOOK_SIGNATURE_TOLERANCE:
        return False
    expected = webhook_signature(secret=secret, body=body, timestamp=timestamp)
    return hmac.compare_digest(expected, header.strip())


def webhook_url_check(url: str) -> None:
    """Refuse a receiver the portal must not call: not http(s), https required unless
    ``WEBHOOK_ALLOW_HTTP``, or a host resolving to a private, loopback, link-local or reserved
    address unless ``WEBHOOK_ALLOW_PRIVATE``. Raises ``ApplicationError`` (field ``url``)."""
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise ApplicationError(_("The webhook URL must be an https:// address."), field="url")
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except OSError as exc:
        raise ApplicationError(_("The webhook URL's host cannot be resolved."), field="url") from exc
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global:
            raise ApplicationError(_("The webhook URL must be a public address."), field="url")


def _backoff(attempts: int) -> int:
    """Seconds before the next attempt: exponential, capped, with full jitter (Celery's formula), at
    least 1 (never at once)."""
    return max(
        1,
        get_exponential_backoff_interval(
            settings.WEBHOOK_BACKOFF_SECONDS, attempts, settings.WEBHOOK_BACKOFF_MAX_SECONDS, full_jitter=True
        ),
    )


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> tuple[WebhookDelivery | None, bool]:
    """Send one delivery if it is pending and due: ``(delivery or None if gone, whether it was sent now)``.

    The row is locked while the request runs (``WEBHOOK_TIMEOUT`` seconds at most), so two workers
    never send it at once; a delivery already delivered, dead or not yet due is left alone, so a
    repeated or early task changes nothing. A 2xx answer → ``delivered``; anything else →
    ``next_attempt_at`` after a backoff, or ``dead`` after ``WEBHOOK_MAX_ATTEMPTS``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.state != WebhookDelivery.State.PENDING or delivery.next_attempt_at > now:
            return delivery, False
        status, error, latency = _post(delivery)
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.last_status, delivery.latency_ms = now, status, latency
        delivery.last_error = error[:ERROR_MAX]
        if status is not None and 200 <= status < 300:
            delivery.state, delivery.delivered_at = WebhookDelivery.State.DELIVERED, timezone.now()
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.state = WebhookDelivery.State.DEAD
        else:
            delivery.next_attempt_at = now + timedelta(seconds=_backoff(delivery.attempts - 1))
        delivery.save()
        return delivery, True


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, int]:
    """POST the event to the endpoint: (HTTP status or None, error text, latency in ms)."""
    event, endpoint = delivery.event, delivery.endpoint
    body = json.dumps(
        event_payload(event),
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "school-voip-portal-webhooks/1",
        "X-Portal-Event-Id": str(event.event_id),
        "X-Portal-Event": event.type,
        "X-Portal-Signature": webhook_signature(secret=webhook_secret(endpoint), body=body, timestamp=int(time.time())),
    }
    started = time.monotonic()
    try:
        webhook_url_check(endpoint.url)  # again at each send: DNS may have changed
        response = requests.post(
            endpoint.url, data=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT, allow_redirects=False
        )
    except ApplicationError as exc:
        return None, str(exc.message), 0
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}", int((time.monotonic() - started) * 1000)
    latency = int((time.monotonic() - started) * 1000)
    error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}: {response.text[:200]}"
    return response.status_code, error, latency


def outbox_sweep(*, now: datetime | None = None) -> int:
    """Beat, every minute: give positions to events without one, and queue every pending delivery
    due for at least ``WEBHOOK_SWEEP_GRACE_SECONDS`` (its own message was lost, or never sent
    because the broker was down). Returns how many deliveries were queued."""
    now = now or timezone.now()
    outbox_positions_assign()
    due = WebhookDelivery.objects.filter(
        state=WebhookDelivery.State.PENDING,
        next_attempt_at__lte=now - timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS),
    ).values_list("pk", flat=True)
    queued = 0
    for delivery_id in due[: settings.WEBHOOK_SWEEP_BATCH]:
        current_app.signature(DELIVER_TASK, args=(delivery_id,)).apply_async()
        queued += 1
    return queued
