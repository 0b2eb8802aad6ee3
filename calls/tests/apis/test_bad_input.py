"""Bad input to the calls endpoints: a clear 4xx naming the field, never a 500, nothing written."""

import pytest

from calls.models import CallRecord, DeviceAuthorization, DeviceAuthorizationHistory
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from schools.services.api_clients import api_access_token_issue, api_client_create
from schools.tests.factories import DeviceFactory, SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(parent_api):
    school = SchoolFactory()
    student = StudentFactory(school=school)
    device = DeviceFactory(school=school)
    client, _ = api_client_create(school_ids=[school.pk], name="v")
    token, _ = api_access_token_issue(client=client)
    parent = parent_api("oBadInputParent0000000000001")
    ContactFactory(student=student, parent=parent.parent, role=Contact.Role.ADMIN)
    other = SchoolFactory()
    return {
        "student": student,
        "device": device,
        "q": f"?access_token={token}",
        "parent": parent,
        "foreign_device": DeviceFactory(school=other),
        "foreign_student": StudentFactory(school=other),
    }


def written():
    return (CallRecord.objects.count(), DeviceAuthorization.objects.count(), DeviceAuthorizationHistory.objects.count())


def event(world, **overrides):
    body = {
        "roomId": "r1",
        "eventName": "startVoip",
        "sn": world["device"].sn,
        "model_id": world["device"].model_id,
        "user_id": world["student"].user_id,
        "openid": "oX",
        "data": {},
    }
    return {**body, **overrides}


@pytest.mark.parametrize(
    ("make_body", "status", "errcode", "field"),
    [
        (lambda w: event(w, eventName="ringVoip"), 400, 47001, "eventName"),
        (lambda w: event(w, eventName="calling", data={"keepTime": -5}), 400, 47001, "data.keepTime"),
        (lambda w: event(w, data="not an object"), 400, 47001, "data"),
        (lambda w: event(w, sn="NO-SUCH-SN"), 404, 9300001, "sn"),
        (lambda w: event(w, sn=w["foreign_device"].sn), 404, 9300001, "sn"),
        (lambda w: event(w, user_id=w["foreign_student"].user_id), 404, 9300002, "user_id"),
        (lambda w: event(w, roomId=123), 400, 47001, "roomId"),
        (lambda w: {k: v for k, v in event(w).items() if k != "roomId"}, 400, 47001, "roomId"),
    ],
)
def test_call_events(api, world, make_body, status, errcode, field):
    before = written()
    r = api.post(f"/api/v1/device/calls/events{world['q']}", make_body(world), format="json")
    assert (r.status_code, r.json()["errcode"]) == (status, errcode), r.content
    assert field in r.json()["errmsg"]
    assert written() == before


@pytest.mark.parametrize(
    ("body", "status", "errcode", "field"),
    [
        ({"openid_list": ["o"] * 101}, 400, 47001, "openid_list"),
        ({"openid_list": []}, 400, 47001, "openid_list"),
        ({"openid_list": "oX"}, 400, 47001, "openid_list"),
        ({"sn": "NO-SUCH-SN", "openid_list": ["o"]}, 404, 9300001, "sn"),
    ],
)
def test_iot_bind_contacts(api, world, body, status, errcode, field):
    full = {"sn": world["device"].sn, "model_id": world["device"].model_id, **body}
    r = api.post(f"/api/v1/device/iot-bind-contacts{world['q']}", full, format="json")
    assert (r.status_code, r.json()["errcode"]) == (status, errcode), r.content
    assert field in r.json()["errmsg"]


def test_check_and_plan(api, world):
    base = {
        "sn": world["device"].sn,
        "model_id": world["device"].model_id,
        "user_id": world["student"].user_id,
        "openid": "o",
    }
    for body, status, errcode in [
        ({**base, "sn": world["foreign_device"].sn}, 404, 9300001),
        ({**base, "user_id": "wxfp_nobody"}, 404, 9300002),
        ({**base, "room_type": "hologram"}, 400, 47001),
        ({k: v for k, v in base.items() if k != "openid"}, 400, 47001),
    ]:
        r = api.post(f"/api/v1/device/calls/check{world['q']}", body, format="json")
        assert (r.status_code, r.json()["errcode"]) == (status, errcode), r.content
    r = api.post("/api/v1/device/calls/check", base, format="json")
    assert (r.status_code, r.json()["errcode"]) == (401, 41001)
    uid = world["student"].user_id
    r = api.get(f"/api/v1/device/students/{uid}/call-plan{world['q']}&sn={world['device'].sn}")
    assert (r.status_code, r.json()["errcode"]) == (400, 47001) and "model_id" in r.json()["errmsg"]
    r = api.get(
        f"/api/v1/device/students/{world['foreign_student'].user_id}/call-plan{world['q']}&sn={world['device'].sn}&model_id={world['device'].model_id}"
    )
    assert (r.status_code, r.json()["errcode"]) == (404, 9300002)


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("post", {"status": 1}, "sn"),
        ("post", {"sn": "X", "status": 1}, "sn"),
        ("post", {"group_id": "g", "sn": "X", "model_id": "m", "status": 1}, "group_id"),
        ("post", {"group_id": "grp_nope", "status": 1}, "group_id"),
        ("post", {"group_id": "g", "status": 7}, "status"),
        ("put", {"list": "nope"}, "list"),
        ("put", {"list": [{"sn": "NO-SUCH", "model_id": "m", "status": 1}]}, "list[0].sn"),
    ],
)
def test_device_authorizations(world, method, body, field):
    before = written()
    r = getattr(world["parent"], method)("/api/v1/device-authorizations", body, format="json")
    assert 400 <= r.status_code < 500, r.content
    assert r.json()["detail"].startswith(field), r.json()
    assert written() == before


def test_foreign_device_authorization_is_not_found(world):
    device = world["foreign_device"]
    r = world["parent"].post(
        "/api/v1/device-authorizations", {"sn": device.sn, "model_id": device.model_id, "status": 1}, format="json"
    )
    assert r.status_code == 404 and r.json()["field"] == "sn"


def test_call_order_and_history(world, parent_api):
    uid = world["student"].user_id
    r = world["parent"].put(f"/api/v1/students/{uid}/call-order", {"openid_list": ["oStranger"]}, format="json")
    assert r.status_code == 404 and r.json()["field"] == "openid_list"
    r = world["parent"].put(f"/api/v1/students/{uid}/call-order", {"openid_list": "x"}, format="json")
    assert r.status_code == 400 and r.json()["field"] == "openid_list"
    stranger = parent_api("oStrangerParent000000000000009")
    assert stranger.get(f"/api/v1/students/{uid}/calls").status_code == 404
    assert stranger.put(f"/api/v1/students/{uid}/call-order", {"openid_list": []}, format="json").status_code == 404
    r = world["parent"].get(f"/api/v1/students/{uid}/calls?page=99")
    assert r.status_code == 404
