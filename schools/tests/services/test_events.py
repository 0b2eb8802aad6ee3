"""The outbox and its webhooks (schools.services.events), against a local receiver that verifies
signatures and dedupes by event id (``webhook_receiver``)."""

import json
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from schools.models import AuditLog, OutboxEvent, WebhookDelivery, WebhookEndpoint
from schools.selectors import events_page
from schools.services.api_clients import api_client_create
from schools.services.events import (
    event_emit,
    events_emit,
    outbox_positions_assign,
    outbox_sweep,
    webhook_deliver,
    webhook_secret,
    webhook_signature,
    webhook_signature_verify,
    webhook_url_check,
)
from schools.services.webhooks import webhook_deliveries_redeliver, webhook_endpoint_create, webhook_endpoint_update
from schools.tasks import deliver_webhook
from schools.tests.factories import SchoolFactory

pytestmark = pytest.mark.django_db


def endpoint_for(receiver, *, school=None, client=None, path="/hook"):
    endpoint = WebhookEndpoint.objects.create(school=school, client=client, url=receiver.url(path))
    receiver.secrets[path] = webhook_secret(endpoint)
    return endpoint


def test_an_event_is_delivered_signed_with_its_id_when_the_change_commits(
    webhook_receiver, django_capture_on_commit_callbacks
):
    school = SchoolFactory()
    endpoint = endpoint_for(webhook_receiver, school=school)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = event_emit(school_id=school.pk, type="contact.changed", data={"user_id": "wxfp_1", "n": 1})
    assert webhook_receiver.requests == []  # nothing leaves before the change commits
    for callback in callbacks:
        callback()

    [request] = webhook_receiver.requests
    assert request["verified"] and request["status"] == 204
    assert request["headers"]["X-Portal-Event-Id"] == str(event.event_id)
    assert request["headers"]["X-Portal-Event"] == "contact.changed"
    body = json.loads(request["body"])
    assert body == {
        "event_id": str(event.event_id),
        "type": "contact.changed",
        "school": school.pk,
        "created_at": event.created_at.isoformat(),
        "data": {"user_id": "wxfp_1", "n": 1},
    }
    delivery = WebhookDelivery.objects.get(event=event, endpoint=endpoint)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 204)
    assert delivery.delivered_at is not None and delivery.latency_ms is not None
    event.refresh_from_db()
    assert event.position == 1


def test_each_active_endpoint_of_the_school_and_of_its_clients_gets_one_delivery(webhook_receiver):
    school, other = SchoolFactory(), SchoolFactory()
    own = endpoint_for(webhook_receiver, school=school, path="/own")
    endpoint_for(webhook_receiver, school=other, path="/other")
    WebhookEndpoint.objects.create(school=school, url=webhook_receiver.url("/off"), is_active=False)
    client, _secret = api_client_create(school_ids=[school.pk, other.pk], name="厂商")
    vendor = endpoint_for(webhook_receiver, client=client, path="/vendor")
    lone, _secret = api_client_create(school_ids=[other.pk], name="别的厂商")
    endpoint_for(webhook_receiver, client=lone, path="/lone")

    event = event_emit(school_id=school.pk, type="contact.changed", data={})
    other_event = event_emit(school_id=other.pk, type="contact.changed", data={})

    assert {d.endpoint for d in event.deliveries.all()} == {own, vendor}
    assert {d.endpoint.url for d in other_event.deliveries.all()} == {
        webhook_receiver.url(p) for p in ("/other", "/vendor", "/lone")
    }


def test_the_signature_is_refused_when_tampered_with_or_replayed_late():
    body, secret, now = b'{"a":1}', "s" * 64, time.time()
    header = webhook_signature(secret=secret, body=body, timestamp=int(now))
    assert webhook_signature_verify(secret=secret, header=header, body=body, now=now)
    assert not webhook_signature_verify(secret=secret, header=header, body=b'{"a":2}', now=now)
    assert not webhook_signature_verify(secret="t" * 64, header=header, body=body, now=now)
    assert not webhook_signature_verify(secret=secret, header=header, body=body, now=now + 301)  # replay window
    assert not webhook_signature_verify(secret=secret, header="v1=abc", body=body, now=now)
    assert not webhook_signature_verify(secret=secret, header="t=x,v1=abc", body=body, now=now)


def test_the_secret_differs_per_endpoint_and_changes_with_its_version():
    school = SchoolFactory()
    a = WebhookEndpoint.objects.create(school=school, url="https://a.example/")
    b = WebhookEndpoint.objects.create(school=school, url="https://b.example/")
    assert len(webhook_secret(a)) == 64 and webhook_secret(a) != webhook_secret(b)
    before = webhook_secret(a)
    a.secret_version += 1
    assert webhook_secret(a) != before


def test_a_failing_receiver_is_retried_with_growing_jittered_backoff_then_dead(webhook_receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS, settings.WEBHOOK_BACKOFF_SECONDS, settings.WEBHOOK_BACKOFF_MAX_SECONDS = 4, 30, 3600
    school = SchoolFactory()
    endpoint_for(webhook_receiver, school=school)
    event = event_emit(school_id=school.pk, type="contact.changed", data={})
    delivery = event.deliveries.get()
    webhook_receiver.answers = [500, 503, 500, 500]
    now = timezone.now()
    waits = []
    for attempt in range(1, 5):
        early, sent = webhook_deliver(delivery_id=delivery.pk, now=now)
        assert sent, f"attempt {attempt} was not sent"
        if early.state == "pending":
            wait = (early.next_attempt_at - now).total_seconds()
            assert 1 <= wait <= 30 * 2 ** (attempt - 1)  # full jitter under the doubling cap, never at once
            waits.append(wait)
            # Not due yet: a repeated or early message sends nothing.
            assert webhook_deliver(delivery_id=delivery.pk, now=now)[1] is False
            assert len(webhook_receiver.requests) == attempt
            now = early.next_attempt_at
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("dead", 4, 500)
    assert delivery.last_error.startswith("HTTP 500")
    assert len(webhook_receiver.requests) == 4
    assert webhook_deliver(delivery_id=delivery.pk, now=now + timedelta(days=1))[1] is False  # dead stays dead


def test_an_unreachable_receiver_records_the_error_and_stays_pending(settings):
    school = SchoolFactory()
    WebhookEndpoint.objects.create(school=school, url="http://127.0.0.1:9/closed")
    event = event_emit(school_id=school.pk, type="contact.changed", data={})
    delivery, sent = webhook_deliver(delivery_id=event.deliveries.get().pk)
    assert sent and delivery.state == "pending" and delivery.last_status is None
    assert "ConnectionError" in delivery.last_error and delivery.attempts == 1


def test_the_task_delivers_once_however_often_it_runs(webhook_receiver):
    school = SchoolFactory()
    endpoint_for(webhook_receiver, school=school)
    event = event_emit(school_id=school.pk, type="contact.changed", data={})
    delivery = event.deliveries.get()
    assert deliver_webhook.apply(args=(delivery.pk,)).get() == "delivered"
    assert deliver_webhook.apply(args=(delivery.pk,)).get() == "delivered"  # a redelivered message
    assert len(webhook_receiver.requests) == 1 and webhook_receiver.duplicates == 0


def test_the_task_retries_by_celery_when_the_receiver_fails(webhook_receiver):
    school = SchoolFactory()
    endpoint_for(webhook_receiver, school=school)
    event = event_emit(school_id=school.pk, type="contact.changed", data={})
    delivery = event.deliveries.get()
    webhook_receiver.answers = [500]
    with (
        mock.patch.object(deliver_webhook, "retry", side_effect=RuntimeError("retry")) as retry,
        pytest.raises(RuntimeError),
    ):
        deliver_webhook.run(delivery.pk)
    delivery.refresh_from_db()
    countdown = retry.call_args.kwargs["countdown"]
    assert countdown >= (delivery.next_attempt_at - timezone.now()).total_seconds()  # never before it is due
    assert delivery.state == "pending" and delivery.attempts == 1


def test_the_sweeper_sends_what_a_broker_outage_lost(webhook_receiver, django_capture_on_commit_callbacks, settings):
    settings.WEBHOOK_SWEEP_GRACE_SECONDS = 60
    school = SchoolFactory()
    endpoint_for(webhook_receiver, school=school)
    with (
        mock.patch("schools.services.events.current_app.signature", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        event = event_emit(school_id=school.pk, type="contact.changed", data={})
    assert webhook_receiver.requests == []  # the change committed; its message was lost
    event.refresh_from_db()
    assert event.position == 1  # positions do not need the broker

    assert outbox_sweep() == 0  # within the grace period its own message may still come
    assert outbox_sweep(now=timezone.now() + timedelta(seconds=61)) == 1
    assert list(webhook_receiver.events) == [str(event.event_id)]
    assert outbox_sweep(now=timezone.now() + timedelta(seconds=61)) == 0  # delivered: nothing more


def test_positions_follow_commit_order_and_the_cursor_pages_through_them():
    school, other = SchoolFactory(), SchoolFactory()
    client, _secret = api_client_create(school_ids=[school.pk], name="厂商")
    now = timezone.now()
    events = events_emit([(school.pk, "contact.changed", {"i": i}, now) for i in range(5)])
    event_emit(school_id=other.pk, type="contact.changed", data={})
    assert outbox_positions_assign() == 6
    assert outbox_positions_assign() == 0
    positions = list(OutboxEvent.objects.order_by("id").values_list("position", flat=True))
    assert positions == list(range(1, 7))  # in id order, from 1
    late = event_emit(school_id=other.pk, type="contact.changed", data={})
    assert outbox_positions_assign() == 1
    late.refresh_from_db()
    assert late.position == 7  # after the last one given
    late.delete()

    page, cursor, more = events_page(client=client, cursor=0, limit=2)
    assert [e.data["i"] for e in page] == [0, 1] and more
    page, cursor, more = events_page(client=client, cursor=cursor, limit=2)
    assert [e.data["i"] for e in page] == [2, 3] and more
    page, cursor, more = events_page(client=client, cursor=cursor, limit=2)
    assert [e.data["i"] for e in page] == [4] and not more
    assert events_page(client=client, cursor=cursor) == ([], cursor, False)
    assert cursor == OutboxEvent.objects.get(pk=events[-1].pk).position


def test_events_are_written_in_bulk(webhook_receiver):
    school = SchoolFactory()
    endpoint_for(webhook_receiver, school=school)
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        events_emit([(school.pk, "contact.changed", {"i": i}, now) for i in range(50)])
    assert len(queries) == 3  # events, receivers (WebhookEndpoint.objects.receiving), deliveries
    assert WebhookDelivery.objects.count() == 50


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/portal",  # https only
        "ftp://hooks.example.com/",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",  # a cloud's metadata service
        "https://[::1]/hook",
        "https://localhost/hook",
        "https:///nohost",
    ],
)
def test_a_receiver_the_portal_must_not_call_is_refused(url, settings):
    settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOW_PRIVATE = False, False
    with pytest.raises(ApplicationError) as refused:
        webhook_url_check(url)
    assert refused.value.field == "url"


def test_a_public_https_receiver_is_accepted(settings):
    settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOW_PRIVATE = False, False
    with mock.patch("socket.getaddrinfo", return_value=[(2, 1, 6, "", ("93.184.216.34", 443))]):
        webhook_url_check("https://hooks.school.example/portal")  # no exception


def test_a_receiver_that_turned_private_is_not_called(settings):
    """DNS may change after the endpoint was saved: each send checks the address again."""
    school = SchoolFactory()
    WebhookEndpoint.objects.create(school=school, url="https://hooks.school.example/portal")
    event = event_emit(school_id=school.pk, type="contact.changed", data={})
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with (
        mock.patch("socket.getaddrinfo", return_value=[(2, 1, 6, "", ("10.0.0.5", 443))]),
        mock.patch("requests.post") as post,
    ):
        delivery, sent = webhook_deliver(delivery_id=event.deliveries.get().pk)
    post.assert_not_called()
    assert sent and delivery.state == "pending"
    assert delivery.last_error == str(_("The webhook URL must be a public address."))


@pytest.mark.parametrize(
    ("state", "delivered"),
    [("delivered", False), ("pending", True), ("dead", True), ("lost", False)],
)
def test_the_database_keeps_a_deliverys_state_and_time_together(state, delivered):
    school = SchoolFactory()
    WebhookEndpoint.objects.create(school=school, url="https://hooks.example/")
    delivery = event_emit(school_id=school.pk, type="contact.changed", data={}).deliveries.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=state, delivered_at=timezone.now() if delivered else None
        )


def test_a_delivered_delivery_sent_again_is_pending_until_delivered_again(webhook_receiver):
    school = SchoolFactory()
    endpoint = endpoint_for(webhook_receiver, school=school)
    delivery = event_emit(school_id=school.pk, type="contact.changed", data={}).deliveries.get()
    webhook_deliver(delivery_id=delivery.pk)
    webhook_deliveries_redeliver(deliveries=[delivery])
    delivery.refresh_from_db()
    assert (delivery.state, delivery.delivered_at, delivery.attempts) == ("pending", None, 0)
    webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.endpoint == endpoint
    assert len(webhook_receiver.requests) == 2 and webhook_receiver.duplicates == 1  # the receiver's dedup


def test_changing_a_receiver_is_checked_and_audited(settings):
    school = SchoolFactory()
    endpoint, _secret = webhook_endpoint_create(url="https://hooks.example/a", school=school, is_active=False)
    assert not endpoint.is_active
    webhook_endpoint_update(endpoint=endpoint, url="https://hooks.example/b", is_active=True)
    row = AuditLog.objects.get(action="webhook_endpoint_changed")
    assert row.data["url"] == ["https://hooks.example/a", "https://hooks.example/b"]
    assert row.data["is_active"] == [False, True]
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ApplicationError):
        webhook_endpoint_update(endpoint=endpoint, url="https://127.0.0.1/c", is_active=True)
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example/b"
