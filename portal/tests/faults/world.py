"""The data of the fault tests, written with the ORM on the private stack (committed at once), and
the HTTP calls the mini-program and a vendor's backend make."""

import time
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.utils import timezone

from contacts.models import ParentToken
from contacts.tests.factories import ParentFactory
from schools.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from schools.services.api_clients import api_client_create
from schools.services.events import outbox_sweep, webhook_secret
from schools.tests.factories import DeviceFactory, SchoolFactory, StudentFactory


@dataclass
class Family:
    user_id: str
    openid: str
    token: str  # the parent's bearer token


@dataclass
class World:
    school_id: int
    endpoint_id: int
    families: list[Family]
    appid: str
    secret: str
    sn: str
    model_id: str


def world(receiver, families: int = 10) -> World:
    """A school with a webhook endpoint at ``receiver``, a vendor API client and a campus phone, and
    ``families`` students each with a parent (scope.voip granted, logged in) not yet bound."""
    school = SchoolFactory()
    endpoint = WebhookEndpoint.objects.create(school=school, url=receiver.url("/hook"))
    receiver.secrets["/hook"] = webhook_secret(endpoint)
    client, secret = api_client_create(school_ids=[school.pk], name="Campus phones Ltd")
    device = DeviceFactory(school=school)
    now = timezone.now()
    members = []
    for student in StudentFactory.create_batch(families, school=school):
        parent = ParentFactory()
        _row, token = ParentToken.issue(parent=parent, created_at=now, expires_at=now + timedelta(days=1))
        members.append(Family(user_id=student.user_id, openid=parent.openid, token=token))
    return World(school.pk, endpoint.pk, members, client.appid, secret, device.sn, device.model_id)


def admin_bind(base_url: str, family: Family, timeout: float = 15) -> requests.Response:
    """``POST /api/v1/students/{user_id}/admin``: the parent asks to become the student's admin contact."""
    return requests.post(
        f"{base_url}/api/v1/students/{family.user_id}/admin",
        json={"relation": "妈妈"},
        headers={"Authorization": f"Bearer {family.token}"},
        timeout=timeout,
    )


def vendor_token(base_url: str, w: World, timeout: float = 15) -> requests.Response:
    """``GET /cgi-bin/token``: the vendor's backend gets an access_token (WeChat-compatible)."""
    return requests.get(
        f"{base_url}/cgi-bin/token",
        params={"grant_type": "client_credential", "appid": w.appid, "secret": w.secret},
        timeout=timeout,
    )


def school_event_ids(w: World) -> set[str]:
    return {str(e) for e in OutboxEvent.objects.filter(school_id=w.school_id).values_list("event_id", flat=True)}


def deliveries(w: World):
    return WebhookDelivery.objects.filter(endpoint_id=w.endpoint_id)


def sweep_until_delivered(w: World, seconds: float = 60) -> bool:
    """Run the outbox sweeper as beat would (every minute; here every 2 s, a minute ahead so that its
    grace period has passed) until every delivery of the school's endpoint is delivered."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not deliveries(w).exclude(state=WebhookDelivery.State.DELIVERED).exists():
            return True
        outbox_sweep(now=timezone.now() + timedelta(seconds=61))
        time.sleep(2)
    return not deliveries(w).exclude(state=WebhookDelivery.State.DELIVERED).exists()
