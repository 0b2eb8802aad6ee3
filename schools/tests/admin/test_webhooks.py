"""Webhooks in the admin (``schools.admin.webhooks``): a receiver's secret is shown once, the
receivers list how their deliveries fare, and staff send deliveries again."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from schools.models import AuditLog, StaffMembership, WebhookDelivery, WebhookEndpoint
from schools.services.api_clients import api_client_create
from schools.services.events import event_emit, webhook_deliver, webhook_secret
from schools.tests.factories import SchoolFactory, StaffMembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    membership = StaffMembershipFactory(school=SchoolFactory(name="甲校"), permissions=["schools"])
    client.force_login(membership.user)
    return membership


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_staff_add_a_receiver_to_their_school_and_see_its_secret_once(client, staff, webhook_receiver):
    response = client.post(
        reverse("admin:schools_webhookendpoint_add"), {"url": webhook_receiver.url(), "is_active": "on"}, follow=True
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.school == staff.school and endpoint.client is None
    [message] = [m for m in messages_of(response) if webhook_secret(endpoint) in m]
    # Nothing secret is stored, and the change page does not show it again.
    page = client.get(reverse("admin:schools_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert webhook_secret(endpoint) not in page
    assert AuditLog.objects.get(action="webhook_secret_issued").actor_user == staff.user
    assert message


def test_a_private_receiver_is_refused_on_the_url_field(client, staff, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = client.post(
        reverse("admin:schools_webhookendpoint_add"), {"url": "http://10.0.0.8/hook", "is_active": "on"}
    )
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_rotating_the_secret_shows_the_new_one_and_stops_the_old(client, staff, webhook_receiver):
    endpoint = WebhookEndpoint.objects.create(school=staff.school, url=webhook_receiver.url())
    old = webhook_secret(endpoint)
    response = client.post(
        reverse("admin:schools_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    endpoint.refresh_from_db()
    new = webhook_secret(endpoint)
    assert new != old and any(new in m for m in messages_of(response))


def test_a_viewer_cannot_rotate_or_redeliver(client, webhook_receiver):
    viewer = StaffMembershipFactory(role=StaffMembership.Role.VIEWER, permissions=["schools"])
    client.force_login(viewer.user)
    endpoint = WebhookEndpoint.objects.create(school=viewer.school, url=webhook_receiver.url())
    event_emit(school_id=viewer.school.pk, type="contact.changed", data={})
    page = client.get(reverse("admin:schools_webhookdelivery_changelist")).content.decode()
    assert 'value="redeliver"' not in page
    client.post(
        reverse("admin:schools_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    assert endpoint.secret_version == 1


def test_the_receivers_list_shows_how_deliveries_fare(client, staff, webhook_receiver):
    endpoint = WebhookEndpoint.objects.create(school=staff.school, url=webhook_receiver.url())
    webhook_receiver.secrets["/hook"] = webhook_secret(endpoint)
    webhook_receiver.answers = [204, 204, 500]
    for _ in range(3):
        event = event_emit(school_id=staff.school.pk, type="contact.changed", data={})
        webhook_deliver(delivery_id=event.deliveries.get().pk)
    page = client.get(reverse("admin:schools_webhookendpoint_changelist")).content.decode()
    cells = re.findall(r'<td class="field-(delivered_count|pending_count|dead_count)">(\d+)</td>', page)
    assert dict(cells) == {"delivered_count": "2", "pending_count": "1", "dead_count": "0"}
    change = client.get(reverse("admin:schools_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert "HTTP 500" in change  # the last error


def test_staff_send_a_dead_delivery_again_and_the_receiver_gets_it(
    client, staff, webhook_receiver, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpoint.objects.create(school=staff.school, url=webhook_receiver.url())
    webhook_receiver.secrets["/hook"] = webhook_secret(endpoint)
    event = event_emit(school_id=staff.school.pk, type="contact.changed", data={})
    delivery = event.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state="dead", attempts=10, last_status=500)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:schools_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery.pk]},
            follow=True,
        )
    assert any("1" in m for m in messages_of(response))
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and list(webhook_receiver.events) == [str(event.event_id)]
    assert AuditLog.objects.get(action="webhook_redelivered").data == {"deliveries": [delivery.pk]}


def test_a_vendors_receiver_is_the_platforms(client, staff, webhook_receiver):
    vendor, _secret = api_client_create(school_ids=[staff.school.pk], name="厂商")
    endpoint = WebhookEndpoint.objects.create(client=vendor, url=webhook_receiver.url())
    response = client.post(
        reverse("admin:schools_webhookendpoint_change", args=[endpoint.pk]),
        {"url": "http://127.0.0.1:1/elsewhere", "is_active": "on"},
    )
    assert response.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.url == webhook_receiver.url()
