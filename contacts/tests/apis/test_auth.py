"""``POST /api/v1/auth/login`` (jscode2session, REFERENCE.md §5), bearer tokens, logout, the sandbox login.

WeChat is a real local HTTP server (``fake_wechat``); nothing here mocks the portal's client.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from contacts.models import Parent, ParentToken
from core.tokens import token_hash

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me/students"
BASE_DIR = Path(__file__).resolve().parents[3]


def login(api, code):
    return api.post(LOGIN, {"code": code}, format="json")


def assert_names_field(response, field):
    body = response.json()
    assert body["detail"].startswith(f"{field}:"), body
    assert body.get("field") == field, body


# --- Success ---------------------------------------------------------------------------------


def test_login_returns_token_openid_and_expiry_seven_days_ahead(api, fake_wechat):
    fake_wechat.sessions["c-ok"] = {"openid": "oParentLogin1", "session_key": "SESSION-KEY-never-leaves"}

    response = login(api, "c-ok")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "openid", "expires_at"}
    assert body["openid"] == "oParentLogin1"
    assert len(body["token"]) >= 43  # 256 random bits, url-safe
    expires_at = parse_datetime(body["expires_at"])
    assert abs(expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    parent = Parent.objects.get(openid="oParentLogin1")
    assert parent.last_login_at is not None


def test_login_stores_only_a_sha256_digest_of_the_token(api, fake_wechat):
    fake_wechat.sessions["c-hash"] = {"openid": "oParentHash", "session_key": "k"}

    token = login(api, "c-hash").json()["token"]

    stored = ParentToken.objects.get(parent__openid="oParentHash")
    assert stored.token_hash == token_hash(token)
    assert len(stored.token_hash) == 64
    assert not ParentToken.objects.filter(token_hash=token).exists()
    assert token not in repr(list(ParentToken.objects.values()))
    assert token not in repr(list(Parent.objects.values()))


def test_login_never_returns_session_key(api, fake_wechat):
    fake_wechat.sessions["c-sk"] = {"openid": "oParentSk", "session_key": "SESSION-KEY-4d2f9a", "unionid": "uUnion1"}

    response = login(api, "c-sk")

    assert response.status_code == 200
    assert b"SESSION-KEY-4d2f9a" not in response.content
    assert "session_key" not in response.json()
    assert Parent.objects.get(openid="oParentSk").unionid == "uUnion1"


def test_login_sends_appid_secret_js_code_and_grant_type(api, fake_wechat):
    fake_wechat.sessions["c-params"] = {"openid": "oParentParams", "session_key": "k"}

    assert login(api, "c-params").status_code == 200

    assert len(fake_wechat.requests) == 1
    method, path, query, _body = fake_wechat.requests[0]
    assert (method, path) == ("GET", "/sns/jscode2session")
    assert query == {
        "appid": django_settings.WECHAT_APPID,
        "secret": django_settings.WECHAT_SECRET,
        "js_code": "c-params",
        "grant_type": "authorization_code",
    }


def test_second_login_reuses_the_parent_and_issues_a_new_token(api, fake_wechat):
    fake_wechat.sessions["c-a"] = {"openid": "oParentTwice", "session_key": "k"}
    fake_wechat.sessions["c-b"] = {"openid": "oParentTwice", "session_key": "k"}

    first = login(api, "c-a").json()["token"]
    second = login(api, "c-b").json()["token"]

    assert first != second
    assert Parent.objects.filter(openid="oParentTwice").count() == 1
    assert ParentToken.objects.filter(parent__openid="oParentTwice").count() == 2


def test_code_of_128_characters_is_accepted(api, fake_wechat):
    code = "c" * 128
    fake_wechat.sessions[code] = {"openid": "oParentLongCode", "session_key": "k"}

    response = login(api, code)

    assert response.status_code == 200, response.content
    assert response.json()["openid"] == "oParentLongCode"


# --- WeChat errors ---------------------------------------------------------------------------


def test_invalid_code_40029_is_400_naming_code(api, fake_wechat):
    response = login(api, "never-issued")  # the fake answers 40029 for unknown codes

    assert response.status_code == 400
    assert_names_field(response, "code")
    assert response.json()["code"] == "invalid_code"
    assert not Parent.objects.exists()
    assert not ParentToken.objects.exists()


@pytest.mark.parametrize(
    "errcode, status, field",
    [
        (40163, 400, "code"),  # code already used
        (45011, 429, None),  # minute quota
        (-1, 503, None),  # system busy
        (40226, 502, None),  # any other refusal: upstream error, not a 500
    ],
)
def test_wechat_errcodes_map_to_http_statuses(api, fake_wechat, errcode, status, field):
    fake_wechat.sessions["c-err"] = {"errcode": errcode, "errmsg": "scripted"}

    response = login(api, "c-err")

    assert response.status_code == status, response.content
    if field:
        assert_names_field(response, field)
    assert not ParentToken.objects.exists()


@pytest.mark.parametrize(
    "raw_answer",
    [
        (500, b"oops"),  # HTTP error
        (200, b"oops"),  # not JSON
        (200, b"[1, 2]"),  # JSON, not an object
        (200, b'{"session_key": "k"}'),  # no openid
        (502, b'{"errcode": 0}'),
    ],
    ids=["http-500", "non-json", "json-array", "no-openid", "http-502"],
)
def test_garbage_from_wechat_is_503(api, fake_wechat, raw_answer):
    fake_wechat.raw_answer = raw_answer

    response = login(api, "c-any")

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "upstream_unavailable"
    assert not ParentToken.objects.exists()


def test_wechat_unreachable_is_503(api, settings):
    settings.WECHAT_API_BASE_URL = "http://127.0.0.1:9"

    response = login(api, "c-any")

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "upstream_unavailable"
    assert not Parent.objects.exists()


# --- Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": ""},
        {"code": None},
        {"code": "x" * 129},
        {"code": ["abc"]},
        {"code": {"js_code": "abc"}},
        {"code": True},
        {"code": 12345},
        {"code": "ab\u0000cd"},
        {"js_code": "abc"},
    ],
    ids=["missing", "empty", "null", "129-chars", "list", "object", "bool", "number", "nul-byte", "wrong-key"],
)
def test_bad_code_is_400_naming_code_and_never_reaches_wechat(api, fake_wechat, body):
    response = api.post(LOGIN, body, format="json")

    assert response.status_code == 400, response.content
    assert_names_field(response, "code")
    assert fake_wechat.requests == []
    assert not Parent.objects.exists()


@pytest.mark.parametrize("payload", [b'{"code": ', b"code=abc", b"{'code': 'abc'}", b'{"code": NaN}'])
def test_malformed_json_is_400(api, fake_wechat, payload):
    response = api.generic("POST", LOGIN, payload, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error"
    assert fake_wechat.requests == []


def test_json_array_body_is_400(api, fake_wechat):
    response = api.post(LOGIN, [{"code": "abc"}], format="json")

    assert response.status_code == 400, response.content
    assert fake_wechat.requests == []


def test_form_encoded_body_is_415(api, fake_wechat):
    response = api.post(LOGIN, {"code": "abc"})  # multipart: only JSON is accepted

    assert response.status_code == 415
    assert fake_wechat.requests == []


# --- Bearer token ----------------------------------------------------------------------------


@pytest.fixture
def logged_in(api, fake_wechat):
    fake_wechat.sessions["c-bearer"] = {"openid": "oParentBearer", "session_key": "k"}
    token = login(api, "c-bearer").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return token


def test_valid_bearer_token_authenticates(api, logged_in):
    response = api.get(ME)

    assert response.status_code == 200, response.content
    assert response.json() == []


def test_missing_bearer_token_is_401(api):
    response = api.get(ME)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer garbage", "Bearer ", "Bearer a b", "Token abc", "bearer " + "x" * 43],
    ids=["garbage", "empty", "three-parts", "other-scheme", "well-formed-unknown"],
)
def test_garbage_bearer_token_is_401(api, logged_in, header):
    api.credentials(HTTP_AUTHORIZATION=header)

    assert api.get(ME).status_code == 401


def test_raw_digest_is_not_a_token(api, logged_in):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_hash(logged_in)}")

    assert api.get(ME).status_code == 401


def test_expired_bearer_token_is_401(api, logged_in):
    assert api.get(ME).status_code == 200
    ParentToken.objects.filter(token_hash=token_hash(logged_in)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = api.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert "过期" in response.json()["detail"]  # Chinese by default
    with translation.override("zh-hans"):  # the English request must not leave English active for later tests
        response = api.get(ME, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_logout_revokes_the_token(api, logged_in):
    response = api.post(LOGOUT)

    assert response.status_code == 204
    assert ParentToken.objects.get(token_hash=token_hash(logged_in)).revoked_at is not None
    assert api.get(ME).status_code == 401
    assert api.post(LOGOUT).status_code == 401


def test_logout_revokes_only_that_token(api, logged_in, fake_wechat):
    fake_wechat.sessions["c-bearer-2"] = {"openid": "oParentBearer", "session_key": "k"}
    other = login(api, "c-bearer-2").json()["token"]

    assert api.post(LOGOUT).status_code == 204

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {other}")
    assert api.get(ME).status_code == 200


def test_logout_without_token_is_401(api):
    assert api.post(LOGOUT).status_code == 401


# --- Sandbox login ---------------------------------------------------------------------------


def test_sandbox_code_goes_to_wechat_when_sandbox_is_off(api, fake_wechat, settings):
    settings.WECHAT_SANDBOX = False
    settings.DEBUG = True

    response = login(api, "sandbox:oX")

    assert response.status_code == 400
    assert_names_field(response, "code")
    assert [r[2]["js_code"] for r in fake_wechat.requests] == ["sandbox:oX"]
    assert not Parent.objects.filter(openid="oX").exists()


def test_sandbox_code_logs_in_without_wechat_when_sandbox_and_debug(api, fake_wechat, settings):
    settings.WECHAT_SANDBOX = True
    settings.DEBUG = True

    response = login(api, "sandbox:oX")

    assert response.status_code == 200, response.content
    assert response.json()["openid"] == "oX"
    assert fake_wechat.requests == []
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    assert api.get(ME).status_code == 200


def test_sandbox_code_with_invalid_openid_is_400_naming_code(api, fake_wechat, settings):
    settings.WECHAT_SANDBOX = True
    settings.DEBUG = True

    response = login(api, "sandbox:o X")

    assert response.status_code == 400
    assert_names_field(response, "code")
    assert not Parent.objects.exists()


def test_sandbox_code_is_not_accepted_without_debug(api, fake_wechat, settings):
    settings.WECHAT_SANDBOX = True
    settings.DEBUG = False

    response = login(api, "sandbox:oX")

    assert response.status_code == 400
    assert_names_field(response, "code")
    assert [r[2]["js_code"] for r in fake_wechat.requests] == ["sandbox:oX"]
    assert not Parent.objects.filter(openid="oX").exists()


# A production environment with everything portal.settings.production requires (nothing is contacted).
PRODUCTION_ENV = {
    "SECRET_KEY": "production-test-secret-key-that-is-long-and-random-enough-0123456789",
    "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CACHE_URL": "rediscache://127.0.0.1:6379/1",
}


def _import_settings(module, **overrides):
    """Import settings ``module`` in a fresh interpreter; prints ``DEBUG WECHAT_SANDBOX``."""
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "WECHAT_SANDBOX", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DJANGO_SETTINGS_MODULE": module, **overrides})
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DEBUG, settings.WECHAT_SANDBOX)",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_keep_debug_and_the_sandbox_off_whatever_the_environment_says():
    result = _import_settings("portal.settings.production", DEBUG="1", WECHAT_SANDBOX="1", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]  # so a "sandbox:<openid>" code is an ordinary wx.login code


def test_local_sandbox_without_debug_refuses_to_start():
    result = _import_settings("portal.settings.local", DEBUG="0", WECHAT_SANDBOX="1")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "WECHAT_SANDBOX" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"DEBUG": "0", "WECHAT_SANDBOX": "0"}, ["False", "False"]),
        ({"DEBUG": "1", "WECHAT_SANDBOX": "1"}, ["True", "True"]),
    ],
)
def test_local_settings_start_when_sandbox_is_allowed(overrides, expected):
    result = _import_settings("portal.settings.local", **overrides)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected
