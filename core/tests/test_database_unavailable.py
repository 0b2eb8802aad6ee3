"""A database outage answers 503 with Retry-After, in each API's shape, never 500 (issue 10 §3).

Django raises ``OperationalError`` (cannot connect, connection terminated by a restart) or
``InterfaceError`` (connection already closed). In an API view the one exception handler answers
(``core.exceptions``); elsewhere (middleware, the admin) ``handler500`` does (``core.error_views``).
The real outage, a PostgreSQL restart under a running portal, is
``portal/tests/faults/test_database_restart.py``.
"""

import json

import pytest
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory
from django.utils import translation
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from core import exceptions
from core.error_views import server_error
from core.wechat.views import WeChatCompatibleApi

OUTAGE = OperationalError(
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused'
)


class OutageApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    error = OUTAGE

    def get(self, request):
        raise self.error


class OutageWeChatApi(WeChatCompatibleApi, OutageApi):
    pass


@pytest.mark.parametrize("error", [OUTAGE, InterfaceError("connection already closed")])
def test_an_api_view_answers_503_with_retry_after(error, monkeypatch):
    logged = []
    monkeypatch.setattr(exceptions.logger, "warning", lambda *args, **kwargs: logged.append((args, kwargs)))
    with translation.override("en"):
        response = OutageApi.as_view(error=error)(RequestFactory().get("/api/v1/students"))

    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.data == {
        "detail": "The service is briefly unavailable; try again in a few seconds.",
        "code": "service_unavailable",
    }
    [(args, kwargs)] = logged  # logged once, one line: no traceback per request in an outage
    assert args[0].startswith("database unavailable") and "exc_info" not in kwargs


def test_a_wechat_compatible_view_answers_system_busy():
    response = OutageWeChatApi.as_view()(RequestFactory().get("/cgi-bin/token"))

    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.data == {"errcode": -1, "errmsg": "system busy"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/students",
            {
                "detail": "The service is briefly unavailable; try again in a few seconds.",
                "code": "service_unavailable",
            },
        ),
        ("/wxa/business/getvoipcontactlist", {"errcode": -1, "errmsg": "system busy"}),
        ("/api/v1/device/calls/check", {"errcode": -1, "errmsg": "system busy"}),
    ],
)
def test_outside_a_view_handler500_answers_503_in_the_apis_shape(path, body):
    request = RequestFactory().get(path)
    try:
        raise OUTAGE  # as Django calls handler500: while handling the exception
    except OperationalError:
        with translation.override("en"):
            response = server_error(request)

    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == body


def test_outside_the_apis_handler500_answers_a_short_503_page():
    request = RequestFactory().get("/admin/")
    try:
        raise InterfaceError("connection already closed")
    except InterfaceError:
        response = server_error(request)

    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/plain")


def test_any_other_error_stays_a_500():
    request = RequestFactory().get("/api/v1/students")
    try:
        raise RuntimeError("unexpected")
    except RuntimeError:
        response = server_error(request)

    assert response.status_code == 500
