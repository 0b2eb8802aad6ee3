"""``GET /api/v1/devices/{sn}/sn-ticket``: snTicket for ``wx.requestDeviceVoIP`` (seed 000 §1, REFERENCE.md §5).

WeChat is a real local HTTP server (``fake_wechat``): the portal fetches its own access_token
from ``/cgi-bin/token``, keeps it in the cache, and asks ``/wxa/getsnticket`` with it.
"""

import time
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.cache.backends import base as cache_base
from django.core.cache.backends import locmem

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from schools.tests.factories import DeviceFactory, SchoolFactory, StudentFactory

TOKEN = "/cgi-bin/token"
GETSNTICKET = "/wxa/getsnticket"
MODEL_ID = "mdl_campusphone_v2"
TOKEN_KEY = "wechat:access_token:wx_test_appid"


def url(sn: str) -> str:
    return f"/api/v1/devices/{sn}/sn-ticket"


def wechat_calls(fake) -> list[str]:
    """Paths the portal asked WeChat for, the parents' logins left out."""
    return [path for path in fake.paths() if path != "/sns/jscode2session"]


def assert_error(response, status, field=None, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    if field is not None:
        assert body["field"] == field, body
        assert body["detail"].startswith(f"{field}:"), body
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def world(db, parent_api, fake_wechat):
    """A parent bound to a student of school A, which has device ``SN-EAST-1``; school B has another device."""
    school = SchoolFactory()
    student = StudentFactory(school=school)
    client = parent_api("oParentSnTicket")
    ContactFactory(
        student=student, parent=client.parent, role=Contact.Role.ADMIN, bound_via=Contact.BoundVia.ADMIN_BINDING
    )
    device = DeviceFactory(
        school=school, sn="SN-EAST-1", model_id=MODEL_ID, device_name="一楼东侧", model_type="校园电话"
    )
    other_school = SchoolFactory()
    StudentFactory(school=other_school)
    other_device = DeviceFactory(school=other_school, sn="SN-OTHER-1", model_id=MODEL_ID)
    return SimpleNamespace(
        school=school, student=student, client=client, device=device, other_device=other_device, fake=fake_wechat
    )


def get_ticket(world, sn="SN-EAST-1", model_id=MODEL_ID):
    params = {} if model_id is None else {"model_id": model_id}
    return world.client.get(url(sn), params)


# --- Success ---------------------------------------------------------------------------------


def test_answers_ticket_and_the_name_the_dialog_shows(world):
    response = get_ticket(world)

    assert response.status_code == 200, response.content
    assert response.json() == {
        "sn_ticket": "ticket-SN-EAST-1",
        "sn": "SN-EAST-1",
        "model_id": MODEL_ID,
        "device_name": "一楼东侧",  # what wx.requestDeviceVoIP takes; WeChat appends the type itself
        "display_name": "一楼东侧 校园电话",
    }


def test_asks_wechat_with_the_portals_own_access_token(world):
    assert get_ticket(world).status_code == 200

    requests = [r for r in world.fake.requests if r[1] != "/sns/jscode2session"]
    assert [(method, path) for method, path, _q, _b in requests] == [("GET", TOKEN), ("POST", GETSNTICKET)]
    assert requests[0][2] == {"grant_type": "client_credential", "appid": "wx_test_appid", "secret": "wx_test_secret"}
    assert requests[1][2] == {"access_token": "fake-token-1"}
    assert requests[1][3] == {"sn": "SN-EAST-1", "model_id": MODEL_ID}


def test_access_token_is_cached_between_requests(world):
    assert get_ticket(world).status_code == 200
    assert get_ticket(world).status_code == 200

    assert world.fake.tokens_issued == 1
    assert wechat_calls(world.fake) == [TOKEN, GETSNTICKET, GETSNTICKET]
    assert [q["access_token"] for _m, p, q, _b in world.fake.requests if p == GETSNTICKET] == ["fake-token-1"] * 2
    assert cache.get(TOKEN_KEY) == "fake-token-1"


@pytest.fixture
def clock(monkeypatch):
    """Moves the local-memory cache's clock forward: ``clock.advance(seconds)``."""
    state = SimpleNamespace(offset=0.0)
    fake_time = SimpleNamespace(time=lambda: time.time() + state.offset)
    monkeypatch.setattr(locmem, "time", fake_time)
    monkeypatch.setattr(cache_base, "time", fake_time)
    state.advance = lambda seconds: setattr(state, "offset", state.offset + seconds)
    return state


@pytest.mark.parametrize(
    ("expires_in", "still_cached_at", "refreshed_at"),
    [(7200, 6890, 6910), (200, 50, 70)],  # expires_in - 300 s, at least 60 s
    ids=["expires_in-300s", "at-least-60s"],
)
def test_token_expired_in_cache_is_refreshed(world, clock, expires_in, still_cached_at, refreshed_at):
    world.fake.token_expires_in = expires_in
    assert get_ticket(world).status_code == 200

    clock.advance(still_cached_at)
    assert get_ticket(world).status_code == 200
    assert world.fake.tokens_issued == 1

    clock.advance(refreshed_at - still_cached_at)
    response = get_ticket(world)

    assert response.status_code == 200, response.content
    assert world.fake.tokens_issued == 2
    assert world.fake.requests[-1][2] == {"access_token": "fake-token-2"}


# --- A token WeChat rejects: refresh once and retry -------------------------------------------


def test_invalid_token_40001_is_refreshed_and_the_request_retried(world):
    cache.set(TOKEN_KEY, "revoked-token", 3600)  # e.g. another system fetched a newer token for the appid

    response = get_ticket(world)

    assert response.status_code == 200, response.content
    assert response.json()["sn_ticket"] == "ticket-SN-EAST-1"
    assert wechat_calls(world.fake) == [GETSNTICKET, TOKEN, GETSNTICKET]
    tokens = [q["access_token"] for _m, p, q, _b in world.fake.requests if p == GETSNTICKET]
    assert tokens == ["revoked-token", "fake-token-1"]
    assert cache.get(TOKEN_KEY) == "fake-token-1"


def test_expired_token_42001_is_refreshed_and_the_request_retried(world):
    assert get_ticket(world).status_code == 200
    world.fake.expired_tokens.add("fake-token-1")

    response = get_ticket(world)

    assert response.status_code == 200, response.content
    assert wechat_calls(world.fake) == [TOKEN, GETSNTICKET, GETSNTICKET, TOKEN, GETSNTICKET]
    assert world.fake.requests[-1][2] == {"access_token": "fake-token-2"}
    assert cache.get(TOKEN_KEY) == "fake-token-2"


def test_token_rejected_twice_in_a_row_fails_after_one_retry(world):
    world.fake.sn_ticket_answers["SN-EAST-1"] = {"errcode": 40001, "errmsg": "invalid credential"}

    response = get_ticket(world)

    assert_error(response, 502, code="upstream_error")
    assert wechat_calls(world.fake) == [TOKEN, GETSNTICKET, TOKEN, GETSNTICKET]
    assert cache.get(TOKEN_KEY) is None  # the rejected token is not kept either


# --- WeChat's errors -------------------------------------------------------------------------


def test_48001_says_the_mini_program_has_no_hardware_device_access(world):
    world.fake.sn_ticket_answers["SN-EAST-1"] = {"errcode": 48001, "errmsg": "api unauthorized"}

    body = assert_error(get_ticket(world), 502, code="wechat_api_unauthorized")

    assert "硬件设备接入" in body["detail"] and "FAQ 3.2" in body["detail"]  # what to do, in either language
    assert "48001" in body["detail"]


@pytest.mark.parametrize(
    ("errcode", "field"),
    [(9800001, "sn"), (9800002, "sn"), (9800003, "model_id")],
    ids=["sn-too-long", "sn-chars", "model_id"],
)
def test_wechat_refusing_sn_or_model_id_answers_400_naming_the_field(world, errcode, field):
    world.fake.sn_ticket_answers["SN-EAST-1"] = {"errcode": errcode, "errmsg": "refused"}

    body = assert_error(get_ticket(world), 400, field=field)

    assert str(errcode) in body["detail"]


def test_wechat_busy_answers_503(world):
    world.fake.sn_ticket_answers["SN-EAST-1"] = {"errcode": -1, "errmsg": "system error"}

    assert_error(get_ticket(world), 503, code="upstream_unavailable")


def test_wechat_http_500_answers_503(world):
    assert get_ticket(world).status_code == 200  # the token is cached: getsnticket itself answers 500
    world.fake.raw_answer = (500, b"<html>Internal Server Error</html>")

    assert_error(get_ticket(world), 503, code="upstream_unavailable")
    assert wechat_calls(world.fake) == [TOKEN, GETSNTICKET, GETSNTICKET]


def test_wechat_unreachable_answers_503(world, settings):
    settings.WECHAT_API_BASE_URL = "http://127.0.0.1:9"  # discard port: connection refused

    assert_error(get_ticket(world), 503, code="upstream_unavailable")


def test_wechat_timing_out_answers_503(world, settings):
    settings.WECHAT_TIMEOUT = 0.2
    world.fake.token_delay = 1.0

    started = time.monotonic()
    assert_error(get_ticket(world), 503, code="upstream_unavailable")
    assert time.monotonic() - started < 1.0


def test_token_refusal_answers_502_and_releases_the_lock(world):
    world.fake.secret = "rotated-secret"  # /cgi-bin/token answers 40001: the portal's secret is wrong

    assert_error(get_ticket(world), 502, code="upstream_error")
    assert wechat_calls(world.fake) == [TOKEN]

    world.fake.secret = "wx_test_secret"
    response = get_ticket(world)

    assert response.status_code == 200, response.content
    assert wechat_calls(world.fake) == [TOKEN, TOKEN, GETSNTICKET]


# --- Devices the parent may not ask for: 404 before WeChat is asked ---------------------------


def test_device_of_another_school_answers_404(world):
    assert_error(get_ticket(world, sn="SN-OTHER-1"), 404, field="sn", code="not_found")
    assert wechat_calls(world.fake) == []


def test_unknown_sn_answers_404(world):
    assert_error(get_ticket(world, sn="SN-NOBODY"), 404, field="sn")
    assert wechat_calls(world.fake) == []


def test_sn_wechat_would_refuse_answers_404(world):
    assert_error(get_ticket(world, sn="SN EAST%00"), 404, field="sn")
    assert_error(get_ticket(world, sn="S" * 129), 404, field="sn")
    assert wechat_calls(world.fake) == []


def test_wrong_model_id_answers_404(world):
    assert_error(get_ticket(world, model_id="mdl_other"), 404, field="sn")
    assert wechat_calls(world.fake) == []


def test_inactive_device_answers_404(world):
    world.device.is_active = False
    world.device.save()

    assert_error(get_ticket(world), 404, field="sn")
    assert wechat_calls(world.fake) == []


def test_device_of_inactive_school_answers_404(world):
    world.school.is_active = False
    world.school.save()

    assert_error(get_ticket(world), 404, field="sn")
    assert wechat_calls(world.fake) == []


def test_parent_bound_only_to_an_inactive_student_answers_404(world):
    world.student.is_active = False
    world.student.save()

    assert_error(get_ticket(world), 404, field="sn")
    assert wechat_calls(world.fake) == []


def test_parent_bound_to_no_student_answers_404(world, parent_api):
    stranger = parent_api("oParentStranger")

    assert_error(stranger.get(url("SN-EAST-1"), {"model_id": MODEL_ID}), 404, field="sn")
    assert wechat_calls(world.fake) == []


def test_ordinary_contact_of_another_school_student_gets_that_schools_device(world):
    other_student = StudentFactory(school=world.other_device.school)
    ContactFactory(student=other_student, parent=world.client.parent)

    response = get_ticket(world, sn="SN-OTHER-1")

    assert response.status_code == 200, response.content
    assert response.json()["sn_ticket"] == "ticket-SN-OTHER-1"


# --- Bad requests ----------------------------------------------------------------------------


def test_missing_model_id_answers_400(world):
    assert_error(get_ticket(world, model_id=None), 400, field="model_id")
    assert_error(get_ticket(world, model_id=""), 400, field="model_id")
    assert_error(get_ticket(world, model_id="m" * 65), 400, field="model_id")
    assert wechat_calls(world.fake) == []


def test_without_bearer_token_answers_401(world, api):
    response = api.get(url("SN-EAST-1"), {"model_id": MODEL_ID})

    assert response.status_code == 401, response.content
    assert wechat_calls(world.fake) == []
