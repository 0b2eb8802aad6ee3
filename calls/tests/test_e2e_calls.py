"""Device authorization and calls end to end (issue 3): mini-program, vendor backend and device."""

import random
from datetime import datetime, time, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from calls.models import CallingWindow, CallPolicy, CallRecord
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from schools.services import api_client_create
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db

MAMA, BABA, YEYE = "oMamaE2E000000000000000000001", "oBabaE2E000000000000000000002", "oYeyeE2E000000000000000000003"
# Today 18:00 in Shanghai is inside the evening window below; 10:00 is class time.
EVENING = timezone.make_aware(datetime.combine(timezone.localdate(), time(18, 0)))
CLASS_TIME = timezone.make_aware(datetime.combine(timezone.localdate(), time(10, 0)))


def at(moment):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def test_calls_end_to_end(api, parent_api, fake_wechat):
    school = SchoolFactory()
    CallPolicy.objects.create(
        school=school, time_limit=300, daily_minutes=5, business_type=3, camera_status=1, ring_timeout=25
    )
    for weekday in range(7):
        CallingWindow.objects.create(school=school, weekday=weekday, start_time=time(16, 30), end_time=time(21, 0))
    group = DeviceGroupFactory(school=school, name="实验小学教学楼")
    device = DeviceFactory(school=school, group=group, sn="HDSY-TP2-000001", device_name="一楼东侧")
    student = StudentFactory(school=school)
    uid = student.user_id
    mama, baba, yeye = (parent_api(o) for o in (MAMA, BABA, YEYE))
    ContactFactory(student=student, parent=mama.parent, role=Contact.Role.ADMIN, relation="妈妈")
    ContactFactory(student=student, parent=baba.parent, relation="爸爸")
    ContactFactory(student=student, parent=yeye.parent, relation="爷爷")
    for client in (mama, baba, yeye):
        client.put("/api/v1/me/voip-scope", {"granted": True}, format="json")

    # The vendor backend's access_token.
    api_client, secret = api_client_create(school=school, name="厂商")
    with at(EVENING):
        token = api.get(
            "/cgi-bin/token", {"grant_type": "client_credential", "appid": api_client.appid, "secret": secret}
        ).json()
    at_q = f"?access_token={token['access_token']}"

    def check(openid, when=EVENING):
        with at(when):
            r = api.post(
                f"/api/v1/device/calls/check{at_q}",
                {"sn": device.sn, "model_id": device.model_id, "user_id": uid, "openid": openid, "room_type": "voice"},
                format="json",
            )
        assert r.status_code == 200, r.content
        return r.json()

    # 妈妈 gets an snTicket (fake WeChat) and authorizes the device group.
    r = mama.get(f"/api/v1/devices/{device.sn}/sn-ticket", {"model_id": device.model_id})
    assert r.status_code == 200, r.content
    assert r.json()["device_name"] == "一楼东侧 校园电话" and r.json()["sn_ticket"]
    r = mama.post("/api/v1/device-authorizations", {"group_id": group.group_id, "status": 1}, format="json")
    assert r.status_code == 200, r.content
    assert mama.get("/api/v1/device-authorizations").json() == {"list": [{"group_id": group.group_id, "status": 1}]}

    # The device's pre-call check: 0, with the school's policy.
    assert check(MAMA) == {"errcode": 0, "errmsg": "ok", "time_limit": 300, "business_type": 3, "camera_status": 1}
    # Not authorized yet: 9.
    assert check(BABA)["errcode"] == 9
    # Revoking answers 9.
    mama.post("/api/v1/device-authorizations", {"group_id": group.group_id, "status": 0}, format="json")
    assert check(MAMA)["errcode"] == 9
    mama.post("/api/v1/device-authorizations", {"group_id": group.group_id, "status": 1}, format="json")
    # Withdrawing scope.voip answers 8.
    mama.put("/api/v1/me/voip-scope", {"granted": False}, format="json")
    assert check(MAMA)["errcode"] == 8
    mama.put("/api/v1/me/voip-scope", {"granted": True}, format="json")
    # Outside the calling window (class time): refused with its code.
    assert check(MAMA, CLASS_TIME)["errcode"] == 9300004

    # The call plan: 爷爷 first by the admin's order, then 妈妈; 爸爸 has not authorized and is dropped.
    baba.put(
        "/api/v1/device-authorizations",
        {"list": [{"sn": device.sn, "model_id": device.model_id, "status": 0}]},
        format="json",
    )
    yeye.post(
        "/api/v1/device-authorizations", {"sn": device.sn, "model_id": device.model_id, "status": 1}, format="json"
    )
    r = mama.put(f"/api/v1/students/{uid}/call-order", {"openid_list": [YEYE, BABA, MAMA]}, format="json")
    assert r.status_code == 200 and r.json()["openid_list"] == [YEYE, BABA, MAMA]
    with at(EVENING):
        r = api.get(f"/api/v1/device/students/{uid}/call-plan{at_q}&sn={device.sn}&model_id={device.model_id}")
    plan = r.json()
    assert r.status_code == 200 and plan["errcode"] == 0
    assert [(c["open_id"], c["relation"], c["ring_timeout"]) for c in plan["contact_list"]] == [
        (YEYE, "爷爷", 25),
        (MAMA, "妈妈", 25),
    ]

    # A full call to 妈妈, its events delivered shuffled and twice.
    base = {
        "roomId": "room-e2e-1",
        "sn": device.sn,
        "model_id": device.model_id,
        "user_id": uid,
        "openid": MAMA,
        "roomType": "voice",
        "businessType": 3,
    }
    events = [
        ("startVoip", {}),
        ("hangOnVoip", {}),
        ("calling", {"keepTime": 100}),
        ("calling", {"keepTime": 200}),
        ("hangUpVoip", {"keepTime": 241, "status": "endByListener", "origin": "listener"}),
        ("endVoip", {"keepTime": 241, "roomType": "voice", "businessType": 3, "isCaller": True}),
        ("finishVoip", {"keepTime": 238}),
    ]
    deliveries = events * 2
    random.Random(3).shuffle(deliveries)
    with at(EVENING):
        for name, data in deliveries:
            r = api.post(f"/api/v1/device/calls/events{at_q}", {**base, "eventName": name, "data": data}, format="json")
            assert r.status_code == 200, r.content
    record = CallRecord.objects.get()
    assert (record.outcome, record.keep_time, record.billed_seconds) == ("completed", 241, 238)
    assert record.end_reason == "listener" and record.business_type == 3
    assert record.answered_at is not None and record.ended_at is not None

    # 妈妈 may not be called again within 30 s; daily minutes: 5 min − 238 s leaves 62 s for 爷爷.
    assert check(MAMA, EVENING + timedelta(seconds=10))["errcode"] == 9300006
    result = check(YEYE, EVENING + timedelta(minutes=1))
    assert (result["errcode"], result["time_limit"]) == (0, 5 * 60 - 238)
    second = {**base, "roomId": "room-e2e-2", "openid": YEYE}
    with at(EVENING + timedelta(minutes=2)):
        for name, data in [
            ("startVoip", {}),
            ("hangOnVoip", {}),
            ("endVoip", {"keepTime": 62}),
            ("finishVoip", {"keepTime": 62}),
        ]:
            api.post(f"/api/v1/device/calls/events{at_q}", {**second, "eventName": name, "data": data}, format="json")
    # Daily minutes used up: the next call is blocked, and the plan is empty.
    assert check(MAMA, EVENING + timedelta(minutes=10))["errcode"] == 9300005
    with at(EVENING + timedelta(minutes=10)):
        plan = api.get(
            f"/api/v1/device/students/{uid}/call-plan{at_q}&sn={device.sn}&model_id={device.model_id}"
        ).json()
    assert (plan["errcode"], plan["contact_list"]) == (9300005, [])

    # Parents see the history: the admin all calls, 爷爷 only his own.
    assert [c["roomId"] for c in mama.get(f"/api/v1/students/{uid}/calls").json()["results"]] == [
        "room-e2e-2",
        "room-e2e-1",
    ]
    assert [c["roomId"] for c in yeye.get(f"/api/v1/students/{uid}/calls").json()["results"]] == ["room-e2e-2"]
