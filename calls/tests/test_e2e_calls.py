"""Device authorization and calls end to end (issue 3): mini-program, vendor backend and device."""

import random
from datetime import datetime, time, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from calls.models import CallingWindow, CallPolicy, CallRecord
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from schools.models import CallMode
from schools.services.api_clients import api_client_create
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db

MAMA, BABA, YEYE = "oMamaE2E000000000000000000001", "oBabaE2E000000000000000000002", "oYeyeE2E000000000000000000003"
AYI = "oAyiE2E0000000000000000000004"  # a classmate's mother: not a contact of this student
# Today 18:00 in Shanghai is inside the evening window below; 10:00 is class time.
EVENING = timezone.make_aware(datetime.combine(timezone.localdate(), time(18, 0)))
CLASS_TIME = timezone.make_aware(datetime.combine(timezone.localdate(), time(10, 0)))


def at(moment):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def test_calls_end_to_end(api, parent_api, fake_wechat):
    """One school, a hardware-mode phone and a face-pay phone: WeChat's rule of each mode, then the
    school's policy (REFERENCE.md §1a)."""
    school = SchoolFactory(miniprogram_state="trial")
    CallPolicy.objects.create(
        school=school, time_limit=300, daily_minutes=5, business_type=3, camera_status=1, ring_timeout=25
    )
    for weekday in range(7):
        CallingWindow.objects.create(school=school, weekday=weekday, start_time=time(16, 30), end_time=time(21, 0))
    group = DeviceGroupFactory(school=school, name="实验小学教学楼")
    device = DeviceFactory(school=school, group=group, sn="HDSY-TP2-000001", device_name="一楼东侧")
    face_pay = DeviceFactory(
        school=school, sn="FACEPAY-000001", model_id="mdl_facepay_k1", device_name="食堂门口",
        model_type="刷脸电话", call_mode=CallMode.FACE_PAY,
    )  # fmt: skip
    student = StudentFactory(school=school)
    uid = student.user_id
    mama, baba, yeye, ayi = (parent_api(o) for o in (MAMA, BABA, YEYE, AYI))
    ContactFactory(student=student, parent=mama.parent, role=Contact.Role.ADMIN, relation="妈妈")
    ContactFactory(student=student, parent=baba.parent, relation="爸爸")
    ContactFactory(student=student, parent=yeye.parent, relation="爷爷")
    ContactFactory(student=StudentFactory(school=school), parent=ayi.parent, role=Contact.Role.ADMIN)
    for client in (mama, baba, yeye, ayi):
        client.put("/api/v1/me/voip-scope", {"granted": True}, format="json")

    # The vendor backend's access_token.
    api_client, secret = api_client_create(school_ids=[school.pk], name="厂商")
    with at(EVENING):
        token = api.get(
            "/cgi-bin/token", {"grant_type": "client_credential", "appid": api_client.appid, "secret": secret}
        ).json()
    at_q = f"?access_token={token['access_token']}"

    def check(openid, when=EVENING, phone=device):
        with at(when):
            r = api.post(
                f"/api/v1/device/calls/check{at_q}",
                {"sn": phone.sn, "model_id": phone.model_id, "user_id": uid, "openid": openid, "room_type": "voice"},
                format="json",
            )
        assert r.status_code == 200, r.content
        return r.json()

    def plan(phone, when=EVENING):
        with at(when):
            r = api.get(f"/api/v1/device/students/{uid}/call-plan{at_q}&sn={phone.sn}&model_id={phone.model_id}")
        assert r.status_code == 200, r.content
        return r.json()

    # Hardware mode (seed 000): 妈妈 gets an snTicket (fake WeChat) and authorizes the device group.
    r = mama.get(f"/api/v1/devices/{device.sn}/sn-ticket", {"model_id": device.model_id})
    assert r.status_code == 200, r.content
    # deviceName for wx.requestDeviceVoIP; WeChat appends the device type itself in its dialog.
    assert (r.json()["device_name"], r.json()["display_name"]) == ("一楼东侧", "一楼东侧 校园电话")
    assert r.json()["sn_ticket"]
    r = mama.post("/api/v1/device-authorizations", {"group_id": group.group_id, "status": 1}, format="json")
    assert r.status_code == 200, r.content
    assert mama.get("/api/v1/device-authorizations").json() == {"list": [{"group_id": group.group_id, "status": 1}]}
    # A face-pay phone has no snTicket: it calls as the student (FAQ 3.7).
    r = mama.get(f"/api/v1/devices/{face_pay.sn}/sn-ticket", {"model_id": face_pay.model_id})
    assert r.status_code == 400 and r.json()["field"] == "sn"

    # The hardware phone's pre-call check: 0, businessType 1, with the school's policy and state.
    assert check(MAMA) == {
        "errcode": 0,
        "errmsg": "ok",
        "time_limit": 300,
        "business_type": 1,
        "camera_status": 1,
        "miniprogram_state": "trial",
    }
    # Not authorized: 9, even for a bound contact with scope.voip.
    assert check(BABA)["errcode"] == 9
    # Authorized but not a contact: the school's rule (9300007), until the school drops it.
    r = ayi.post(
        "/api/v1/device-authorizations", {"sn": device.sn, "model_id": device.model_id, "status": 1}, format="json"
    )
    assert r.status_code == 200, r.content
    assert check(AYI)["errcode"] == 9300007
    school.hardware_requires_contact = False
    school.save()
    assert check(AYI)["errcode"] == 0
    school.hardware_requires_contact = True
    school.save()
    # Revoking answers 9; scope.voip is not hardware mode's rule.
    mama.post("/api/v1/device-authorizations", {"group_id": group.group_id, "status": 0}, format="json")
    assert check(MAMA)["errcode"] == 9
    mama.post("/api/v1/device-authorizations", {"group_id": group.group_id, "status": 1}, format="json")
    mama.put("/api/v1/me/voip-scope", {"granted": False}, format="json")
    assert check(MAMA)["errcode"] == 0

    # Face-pay mode (seed 003 §1): contact + scope.voip; device authorizations are not consulted.
    face = check(BABA, phone=face_pay)
    assert (face["errcode"], face["business_type"], face["miniprogram_state"]) == (0, 3, "trial")
    assert check(MAMA, phone=face_pay)["errcode"] == 8  # no scope.voip
    assert check(AYI, phone=face_pay)["errcode"] == 9  # authorized the other phone, but not a contact
    mama.put("/api/v1/me/voip-scope", {"granted": True}, format="json")
    # Outside the calling window (class time): refused with its code, in both modes.
    assert check(MAMA, CLASS_TIME)["errcode"] == check(MAMA, CLASS_TIME, face_pay)["errcode"] == 9300004

    # The call plans: 爷爷 first by the admin's order. The hardware phone drops 爸爸 (not authorized);
    # the face-pay phone calls every contact with scope.voip.
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
    hardware_plan = plan(device)
    assert (hardware_plan["errcode"], hardware_plan["business_type"]) == (0, 1)
    assert [(c["open_id"], c["relation"], c["ring_timeout"]) for c in hardware_plan["contact_list"]] == [
        (YEYE, "爷爷", 25),
        (MAMA, "妈妈", 25),
    ]
    face_plan = plan(face_pay)
    assert (face_plan["business_type"], face_plan["miniprogram_state"]) == (3, "trial")
    assert [c["open_id"] for c in face_plan["contact_list"]] == [YEYE, BABA, MAMA]

    # A full call from the face-pay phone to 妈妈, its events delivered shuffled and twice.
    base = {
        "roomId": "room-e2e-1",
        "sn": face_pay.sn,
        "model_id": face_pay.model_id,
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

    # 妈妈 may not be called again within 30 s, from either phone; the daily minutes are the
    # student's: 5 min − 238 s leaves 62 s for 爷爷 on the hardware phone.
    assert check(MAMA, EVENING + timedelta(seconds=10))["errcode"] == 9300006
    result = check(YEYE, EVENING + timedelta(minutes=1))
    assert (result["errcode"], result["time_limit"]) == (0, 5 * 60 - 238)
    second = {**base, "roomId": "room-e2e-2", "openid": YEYE, "sn": device.sn, "model_id": device.model_id}
    del second["businessType"]  # the device's mode decides: 1
    with at(EVENING + timedelta(minutes=2)):
        for name, data in [
            ("startVoip", {}),
            ("hangOnVoip", {}),
            ("endVoip", {"keepTime": 62}),
            ("finishVoip", {"keepTime": 62}),
        ]:
            api.post(f"/api/v1/device/calls/events{at_q}", {**second, "eventName": name, "data": data}, format="json")
    assert CallRecord.objects.get(room_id="room-e2e-2").business_type == 1
    # Daily minutes used up: the next call is blocked, and the plans are empty.
    assert check(MAMA, EVENING + timedelta(minutes=10))["errcode"] == 9300005
    assert (plan(face_pay, EVENING + timedelta(minutes=10))["contact_list"]) == []
    blocked = plan(device, EVENING + timedelta(minutes=10))
    assert (blocked["errcode"], blocked["contact_list"]) == (9300005, [])

    # The face-pay phone's initByCaller failed with errCode 8: 爸爸's scope.voip is gone, and his
    # mini-program is told to ask again (FAQ 3.6).
    failed = {**base, "roomId": "room-e2e-3", "openid": BABA, "eventName": "initByCallerFail"}
    with at(EVENING + timedelta(minutes=30)):
        r = api.post(
            f"/api/v1/device/calls/events{at_q}",
            {**failed, "data": {"errCode": 8, "errMsg": "no scope"}},
            format="json",
        )
    assert r.status_code == 200, r.content
    scope = baba.get("/api/v1/me/voip-scope").json()
    assert (scope["granted"], scope["ask_again"]) == (False, True)
    assert check(BABA, EVENING + timedelta(minutes=40), face_pay)["errcode"] == 8

    # Parents see the history: the admin all calls, 爷爷 only his own.
    assert [c["roomId"] for c in mama.get(f"/api/v1/students/{uid}/calls").json()["results"]] == [
        "room-e2e-3",
        "room-e2e-2",
        "room-e2e-1",
    ]
    assert [c["roomId"] for c in yeye.get(f"/api/v1/students/{uid}/calls").json()["results"]] == ["room-e2e-2"]
