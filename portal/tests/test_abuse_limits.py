"""Abuse limits (issue 9 §4): rates per address that a client cannot fake, per parent, appid and
device, 429 with Retry-After (45009 on WeChat-compatible endpoints), bounded vendor tokens, request
bodies refused before they are read."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from contacts.models import Contact, Parent
from contacts.services.share_links import share_link_create
from contacts.tests.factories import ContactFactory
from schools.models import ApiAccessToken
from schools.tests.factories import DeviceFactory, StudentFactory
from schools.tests.vendor import assert_wechat_error, get_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(monkeypatch):
    """``rates(scope="2/minute", …)``: small limits for the test (DRF keeps the rates on the class)."""

    def set_rates(**scoped):
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **scoped})

    return set_rates


def login(api, code, **headers):
    return api.post("/api/v1/auth/login", {"code": code}, format="json", **headers)


def test_the_login_limit_counts_the_real_address_whatever_x_forwarded_for_says(api, fake_wechat, rates):
    rates(login="3/minute")
    answers = [login(api, f"bad-{n}", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(5)]
    assert answers[:3] != [429] * 3 and answers[3:] == [429, 429]


def test_behind_a_trusted_proxy_the_limit_is_per_forwarded_client(api, fake_wechat, rates, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    rates(login="2/minute")
    # The proxy appends the address it saw (the last one); what the client wrote before it is ignored.
    for fake in ("6.6.6.6", "7.7.7.7"):
        assert login(api, "bad", HTTP_X_FORWARDED_FOR=f"{fake}, 10.0.0.5").status_code != 429
    refused = login(api, "bad", HTTP_X_FORWARDED_FOR="8.8.8.8, 10.0.0.5")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert login(api, "bad", HTTP_X_FORWARDED_FOR="8.8.8.8, 10.0.0.9").status_code != 429  # another client


def test_share_link_guessing_is_limited_per_parent_and_per_address(parent_api, rates):
    rates(bind="3/minute", bind_address="6/minute")
    mama, baba = parent_api("oLimitMama"), parent_api("oLimitBaba")
    answers = [mama.post(f"/api/v1/share-links/guess-{n}/bind", {}, format="json") for n in range(4)]
    assert [r.status_code for r in answers] == [404, 404, 404, 429]
    assert int(answers[-1]["Retry-After"]) > 0 and answers[-1].json()["code"] == "throttled"
    # Another parent from the same address gets what is left of the address's limit (4 counted).
    assert [baba.get(f"/api/v1/share-links/guess-{n}").status_code for n in range(3)] == [404, 404, 429]


def test_a_real_share_link_still_binds_below_the_limit(parent_api, rates):
    rates(bind="3/minute")
    admin = ContactFactory(role=Contact.Role.ADMIN)
    _link, token = share_link_create(parent=admin.parent, user_id=admin.student.user_id)
    client = parent_api("oLimitNewcomer")
    Parent.objects.filter(pk=client.parent.pk).update(voip_scope_granted=True)
    assert client.post(f"/api/v1/share-links/{token}/bind", {}, format="json").json()["allowed"] is True


def test_the_token_endpoint_is_limited_per_appid_and_per_address_with_45009(api, vendor, rates):
    rates(token_appid="2/minute", token_address="5/minute")
    client, secret = vendor
    for _ in range(2):
        assert get_token(api, client.appid, secret).status_code == 200
    refused = get_token(api, client.appid, secret)
    assert_wechat_error(refused, 45009, 429)
    assert int(refused["Retry-After"]) > 0
    # Trying other appids from the same address (enumeration) hits the address limit (3 counted).
    answers = [get_token(api, f"wxguess{n:010d}", "s").json()["errcode"] for n in range(3)]
    assert answers == [40001, 40001, 45009]


def test_pre_call_checks_are_limited_per_device(api, vendor, access_token, rates):
    rates(device_check_device="2/minute")
    client, _secret = vendor
    student = StudentFactory(school=client.schools.get())
    busy, quiet = DeviceFactory(school=student.school), DeviceFactory(school=student.school)

    def check(device):
        body = {"sn": device.sn, "model_id": device.model_id, "user_id": student.user_id, "openid": "oX"}
        return api.post(f"/api/v1/device/calls/check?access_token={access_token}", body, format="json")

    assert [check(busy).json()["errcode"] for _ in range(3)] == [9, 9, 45009]
    assert check(quiet).json()["errcode"] == 9  # another device of the same vendor is not held back


def test_a_claim_code_lock_out_says_when_to_retry(parent_api, settings):
    settings.CLAIM_CODE_MAX_ATTEMPTS = 1
    student = StudentFactory(school__require_claim_code=True)
    client = parent_api("oLimitClaim")
    Parent.objects.filter(pk=client.parent.pk).update(voip_scope_granted=True)
    url = f"/api/v1/students/{student.user_id}/admin"
    assert client.post(url, {"claim_code": "WRONG-CODES"}, format="json").status_code == 400
    locked = client.post(url, {"claim_code": "WRONG-CODES"}, format="json")
    assert locked.status_code == 429 and int(locked["Retry-After"]) == settings.CLAIM_CODE_WINDOW.total_seconds()


def test_a_client_keeps_one_token_plus_those_of_the_last_five_minutes(api, vendor):
    client, secret = vendor
    tokens = [get_token(api, client.appid, secret).json()["access_token"] for _ in range(3)]
    soon = timezone.now() + timedelta(seconds=301)
    live_after_overlap = ApiAccessToken.objects.filter(client=client, expires_at__gt=soon)
    assert live_after_overlap.count() == 1 and live_after_overlap.filter(ApiAccessToken.token_q(tokens[-1])).exists()
    assert ApiAccessToken.objects.filter(client=client, expires_at__gt=timezone.now()).count() == 3  # switching


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/api/v1/auth/login", "detail"),
        ("/wxa/business/getvoipcontactlist?access_token=x", "errcode"),
        ("/api/v1/device/calls/events?access_token=x", "errcode"),
    ],
)
def test_a_json_body_over_the_limit_is_refused_before_it_is_read(path, shape, settings):
    body = json.dumps({"code": "x" * (settings.API_MAX_BODY_BYTES + 1)})
    response = APIClient().generic("POST", path, body, content_type="application/json")
    assert response.status_code == 413 and shape in response.json()


def test_an_admin_upload_over_its_limit_is_refused(client, settings):
    settings.UPLOAD_MAX_BODY_BYTES = 1024
    response = client.generic("POST", "/admin/schools/student/import/", b"x" * 2048, content_type="text/csv")
    assert response.status_code == 413


def test_a_body_at_the_limit_reaches_the_view(api, settings):
    settings.API_MAX_BODY_BYTES = 64
    response = api.generic("POST", "/api/v1/auth/login", json.dumps({"code": ""}), content_type="application/json")
    assert response.status_code == 400  # the view answered: the code is empty


# --- the admin login ---------------------------------------------------------------------------------


def admin_login(client, password, address="203.0.113.7"):
    return client.post(
        "/admin/login/", {"username": "teacher", "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def test_the_admin_login_locks_out_after_repeated_failures_even_with_the_right_password(client, settings):
    from schools.tests.factories import StaffMembershipFactory, UserFactory

    user = UserFactory(username="teacher")
    user.set_password("right-password")
    user.save()
    StaffMembershipFactory(user=user)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert admin_login(client, "wrong").status_code == 200  # the form again
    assert admin_login(client, "wrong").status_code == 429  # the limit: locked out
    locked = admin_login(client, "right-password")
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    # Another address is not locked out, and a success there resets nothing here.
    assert admin_login(client, "right-password", address="198.51.100.1").status_code == 302


def test_staff_sessions_last_hours_not_weeks(settings):
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
