"""Errors under /api/, /cgi-bin/ and /wxa/ answer JSON in the API's shape, never Django's HTML pages (issue 9 §5).

CSRF failures (CSRF_FAILURE_VIEW), unknown paths, 400 and 500 (handler400/404/500 in portal.urls):
``{"detail", "code"}`` for the mini-program API, ``{"errcode", "errmsg"}`` on the WeChat-compatible
paths. Other paths keep Django's pages. This module is also the URLconf of the tests that need a
CSRF-protected view or a view raising Http404 (``pytest.mark.urls``).
"""

import pytest
from django.http import Http404, HttpResponse
from django.test import Client
from django.urls import path

from contacts.apis.binding import ShareLinkDetailApi
from portal import urls as portal_urls
from schools.apis import AccessTokenApi
from schools.tests.vendor import assert_wechat_error

pytestmark = pytest.mark.django_db


def protected(request):
    """A plain Django view: the CSRF middleware checks its POSTs."""
    return HttpResponse("ok")


def raises_404(request):
    raise Http404("nothing here")


def raises_500(request):
    raise RuntimeError("unexpected")


urlpatterns = [
    path("api/v1/test-protected", protected),
    path("cgi-bin/test-protected", protected),
    path("wxa/test-protected", protected),
    path("test-protected", protected),
    path("api/v1/test-404", raises_404),
    path("wxa/test-404", raises_404),
    path("test-404", raises_404),
    path("api/v1/test-500", raises_500),
    path("test-500", raises_500),
    *portal_urls.urlpatterns,
]
handler400 = portal_urls.handler400
handler403 = portal_urls.handler403
handler404 = portal_urls.handler404
handler500 = portal_urls.handler500


def assert_api_error(response, status, code) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.fixture
def staff_session(admin_user):
    """A client with a staff session cookie and real CSRF checks (as a browser)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


def test_the_csrf_failure_view_is_the_portals(settings):
    assert settings.CSRF_FAILURE_VIEW == "core.error_views.csrf_failure"


@pytest.mark.urls(__name__)
def test_csrf_failure_under_api_answers_json_with_the_reason(staff_session):
    response = staff_session.post("/api/v1/test-protected", {"x": "1"})

    body = assert_api_error(response, 403, "csrf_failed")
    assert body["detail"].startswith("CSRF Failed: ")


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/cgi-bin/test-protected", "/wxa/test-protected"])
def test_csrf_failure_on_wechat_compatible_paths_answers_errcode(staff_session, url):
    body = assert_wechat_error(staff_session.post(url, {"x": "1"}), 48001, 403)  # not 40001: the token is fine
    assert body["errmsg"].startswith("CSRF Failed: ")


@pytest.mark.urls(__name__)
def test_csrf_failure_elsewhere_keeps_djangos_page(staff_session):
    response = staff_session.post("/test-protected", {"x": "1"})

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_a_post_with_a_session_but_no_csrf_token_to_an_unknown_api_path_is_json_404(staff_session):
    assert_api_error(staff_session.post("/api/v1/unknown", {"x": "1"}), 404, "not_found")
    assert_wechat_error(staff_session.post("/cgi-bin/unknown", {"x": "1"}), 40004, 404)
    assert_wechat_error(staff_session.post("/wxa/unknown", {"x": "1"}), 40004, 404)


def test_unknown_paths_under_every_api_prefix_answer_json_404(client):
    assert_api_error(client.get("/api/v1/unknown"), 404, "not_found")
    assert_api_error(client.delete("/api/unknown"), 404, "not_found")
    assert_wechat_error(client.get("/cgi-bin/unknown"), 40004, 404)
    assert_wechat_error(client.post("/wxa/business/unknown"), 40004, 404)
    assert_wechat_error(client.get("/api/v1/device/unknown"), 40004, 404)  # the vendors' device API
    response = client.get("/unknown")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_unknown_paths_under_api_answer_json_404_with_debug_on_too(client, settings):
    settings.DEBUG = True

    assert_api_error(client.post("/api/v1/unknown"), 404, "not_found")
    assert_wechat_error(client.get("/api/v1/device/unknown"), 40004, 404)


@pytest.mark.urls(__name__)
def test_http404_raised_under_api_prefixes_answers_json(client):
    assert_api_error(client.get("/api/v1/test-404"), 404, "not_found")
    assert_wechat_error(client.get("/wxa/test-404"), 40004, 404)
    response = client.get("/test-404")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def _boom(*args, **kwargs):
    raise RuntimeError("unexpected")


def test_unhandled_exceptions_in_api_views_answer_json_500(parent_api, client, monkeypatch):
    monkeypatch.setattr(ShareLinkDetailApi, "get", _boom)
    monkeypatch.setattr(AccessTokenApi, "get", _boom)
    parent = parent_api("oBoom")
    parent.raise_request_exception = client.raise_request_exception = False

    assert_api_error(parent.get("/api/v1/share-links/anything"), 500, "error")
    body = assert_wechat_error(client.get("/cgi-bin/token"), -1, 500)
    assert body["errmsg"] == "A server error occurred."  # English, like WeChat's


@pytest.mark.urls(__name__)
def test_handler500_answers_json_under_api_and_djangos_page_elsewhere(client):
    client.raise_request_exception = False

    assert_api_error(client.get("/api/v1/test-500"), 500, "error")
    response = client.get("/test-500")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_bad_requests_under_api_prefixes_answer_json_400(client):
    assert_api_error(client.get("/api/v1/me/students", HTTP_HOST="evil.example"), 400, "parse_error")
    assert_wechat_error(client.get("/cgi-bin/token", HTTP_HOST="evil.example"), 47001, 400)
    response = client.get("/admin/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
