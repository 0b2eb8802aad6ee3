"""The device endpoints run a fixed number of queries, whatever the number of contacts, devices or openids."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.tests.factories import DeviceAuthorizationFactory
from contacts.models import Contact
from contacts.tests.factories import ContactFactory, ParentFactory
from schools.services.api_clients import api_access_token_issue, api_client_create
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db


def build(n: int):
    """A school with ``n`` devices in a group, a student with ``n`` authorized contacts, and an access token."""
    school = SchoolFactory()
    group = DeviceGroupFactory(school=school, capacity=200)
    devices = [DeviceFactory(school=school, group=group) for _ in range(n)]
    student = StudentFactory(school=school)
    contacts = [ContactFactory(student=student, role=Contact.Role.ADMIN if i == 0 else 0) for i in range(n)]
    for c in contacts:
        DeviceAuthorizationFactory(parent=c.parent, group=group)
    extra = [ParentFactory() for _ in range(n)]
    client, _ = api_client_create(school_ids=[school.pk], name="v")
    token, _ = api_access_token_issue(client=client)
    return devices[0], student, [c.parent.openid for c in contacts] + [p.openid for p in extra], token


def count(api, method, url, body=None):
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(api, method)(url, body, format="json") if body is not None else getattr(api, method)(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


@pytest.mark.parametrize("n", [2, 20])
def test_pinned_query_counts(api, n):
    device, student, openids, token = build(n)
    q = f"?access_token={token}"

    queries, body = count(
        api,
        "post",
        f"/api/v1/device/iot-bind-contacts{q}",
        {"sn": device.sn, "model_id": device.model_id, "openid_list": openids},
    )
    assert queries == 4  # access token and its client's schools (then cached), device, openids with authorizations
    assert sum(c["status"] for c in body["contact_list"]) == n and len(body["contact_list"]) == 2 * n

    check = {"sn": device.sn, "model_id": device.model_id, "user_id": student.user_id, "openid": openids[0]}
    queries, body = count(api, "post", f"/api/v1/device/calls/check{q}", check)
    assert body["errcode"] == 0
    assert queries == 5  # device, student+policy, parent+contact+authorization, windows, usage (token cached)

    queries, body = count(
        api, "get", f"/api/v1/device/students/{student.user_id}/call-plan{q}&sn={device.sn}&model_id={device.model_id}"
    )
    assert len(body["contact_list"]) == n
    assert queries == 5  # device, student+policy, windows, usage, contacts (token cached)
