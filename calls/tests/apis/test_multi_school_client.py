"""One vendor appid serving several schools: every answer is scoped by the device's school, and a
school no longer granted is unknown at once (REFERENCE.md §5)."""

import pytest

from contacts.tests.factories import ContactFactory
from schools.models import AuditLog
from schools.services.api_clients import api_client_create, api_client_set_schools
from schools.tests.factories import DeviceFactory, SchoolFactory, StudentFactory
from schools.tests.vendor import assert_wechat_error, get_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor_of_two(api):
    """A vendor granted schools A and B (not C), with a device and a contact-bound student in each."""
    a, b, c = SchoolFactory(), SchoolFactory(), SchoolFactory()
    world = {"schools": (a, b, c)}
    for name, school in zip("abc", (a, b, c), strict=True):
        world[f"device_{name}"] = DeviceFactory(school=school)
        world[f"student_{name}"] = ContactFactory(student=StudentFactory(school=school), role=1).student
    client, secret = api_client_create(school_ids=[a.pk, b.pk], name="多校厂商")
    world["client"] = client
    world["token"] = get_token(api, client.appid, secret).json()["access_token"]
    return world


def check(api, world, device, student):
    body = {"sn": device.sn, "model_id": device.model_id, "user_id": student.user_id, "openid": "oSomeone"}
    return api.post(f"/api/v1/device/calls/check?access_token={world['token']}", body, format="json")


def contact_list(api, world, student):
    url = f"/wxa/business/getvoipcontactlist?access_token={world['token']}"
    return api.post(url, {"user_id": student.user_id}, format="json")


def test_each_granted_schools_devices_and_students_are_served(api, vendor_of_two):
    w = vendor_of_two
    for name in "ab":
        response = check(api, w, w[f"device_{name}"], w[f"student_{name}"])
        assert response.status_code == 200 and response.json()["errcode"] == 9  # known; oSomeone may not be called
        assert contact_list(api, w, w[f"student_{name}"]).json()["errcode"] == 0


def test_a_device_and_a_student_of_two_granted_schools_answer_9300003(api, vendor_of_two):
    w = vendor_of_two
    response = check(api, w, w["device_a"], w["student_b"])
    assert (response.status_code, response.json()["errcode"]) == (200, 9300003)
    plan = api.get(
        f"/api/v1/device/students/{w['student_b'].user_id}/call-plan?access_token={w['token']}"
        f"&sn={w['device_a'].sn}&model_id={w['device_a'].model_id}"
    )
    assert (plan.json()["errcode"], plan.json()["contact_list"]) == (9300003, [])
    event = {
        "roomId": "room-cross",
        "eventName": "startVoip",
        "sn": w["device_a"].sn,
        "model_id": w["device_a"].model_id,
        "user_id": w["student_b"].user_id,
        "openid": "oSomeone",
    }
    response = api.post(f"/api/v1/device/calls/events?access_token={w['token']}", event, format="json")
    assert_wechat_error(response, 9300003, 400)


def test_a_school_not_granted_is_unknown_and_a_withdrawn_one_at_once(api, vendor_of_two):
    w = vendor_of_two
    assert_wechat_error(check(api, w, w["device_c"], w["student_c"]), 9300001, 404)
    assert contact_list(api, w, w["student_c"]).json()["errcode"] == 1  # like WeChat: HTTP 200, errcode

    a, b, _c = w["schools"]
    api_client_set_schools(client=w["client"], school_ids=[a.pk])
    assert_wechat_error(check(api, w, w["device_b"], w["student_b"]), 9300001, 404)
    assert contact_list(api, w, w["student_b"]).status_code == 200
    assert contact_list(api, w, w["student_b"]).json()["errcode"] == 1
    assert AuditLog.objects.get(action="api_client_ungranted").school == b
