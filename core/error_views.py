"""Error pages in the API's error shape under ``/api/``, ``/cgi-bin/`` and ``/wxa/`` (issue 9 §5).

Django answers a CSRF failure (``CSRF_FAILURE_VIEW``), an unknown path, a bad request and an
unhandled exception with HTML pages of its own; under the API's prefixes these answer JSON
instead, built by the API's one exception handler (``core.exceptions``) from the matching DRF
exception: ``{"detail", "code"}`` for the mini-program API, ``{"errcode", "errmsg"}`` (English,
like WeChat's) on the WeChat-compatible paths (``core.middleware.WECHAT_PREFIXES``). Every other
path keeps Django's own page. ``portal.urls`` names these as ``handler400/403/404/500``.

A database outage outside an API view (middleware, the admin) answers 503 with ``Retry-After``
rather than 500: in the API's shape under its prefixes (``core.exceptions``), else a short page.
"""

import sys
from contextlib import nullcontext
from types import SimpleNamespace

from django.http import HttpResponse, JsonResponse
from django.utils import translation
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from rest_framework import exceptions

from core.errors import Forbidden
from core.exceptions import (
    DATABASE_RETRY_AFTER,
    DATABASE_UNAVAILABLE,
    DATABASE_UNAVAILABLE_MESSAGE,
    api_exception_handler,
    database_unavailable_response,
)
from core.middleware import API_PREFIXES, WECHAT_PREFIXES
from core.wechat.errcodes import ErrCode

_WECHAT_VIEW = SimpleNamespace(wechat_compatible=True)


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def api_error_response(request, exc_class: type[Exception], *args, **kwargs) -> JsonResponse:
    """``exc_class(*args, **kwargs)`` (a DRF exception or a ``core.errors`` one) answered as the API
    view under ``request.path`` would answer it."""
    wechat = request.path.startswith(WECHAT_PREFIXES)
    context = {"request": request, "view": _WECHAT_VIEW if wechat else None}
    # WeChat's errmsg texts are English; the exception's text is translated when it is made.
    with translation.override("en") if wechat else nullcontext():
        response = api_exception_handler(exc_class(*args, **kwargs), context)
        data = _resolved(response.data)
    json_response = JsonResponse(
        data, status=response.status_code, json_dumps_params={"ensure_ascii": False, "separators": (",", ":")}
    )
    for header in ("WWW-Authenticate", "Retry-After"):
        if header in response:
            json_response[header] = response[header]
    return json_response


def _resolved(data):
    """``data`` with lazy translations turned into text (while the language is the request's)."""
    if isinstance(data, dict):
        return {key: _resolved(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_resolved(value) for value in data]
    if isinstance(data, int | float | bool) or data is None:
        return data
    return str(data)


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: 403 in the API's shape under the API's prefixes, else Django's page."""
    if is_api_path(request.path):
        # errcode 48001, not 40001: the vendor's access_token is not at fault.
        return api_error_response(
            request, Forbidden, f"CSRF Failed: {reason}", code="csrf_failed", errcode=ErrCode.API_UNAUTHORIZED
        )
    return django_csrf_failure(request, reason=reason)


def bad_request(request, exception):
    if is_api_path(request.path):
        return api_error_response(request, exceptions.ParseError)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api_path(request.path):
        return api_error_response(request, exceptions.PermissionDenied)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if is_api_path(request.path):
        return api_error_response(request, exceptions.NotFound)
    return defaults.page_not_found(request, exception)


def server_error(request):
    exc = sys.exc_info()[1]  # Django calls handler500 while handling the exception
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return database_unavailable(request, exc)
    if is_api_path(request.path):
        return api_error_response(request, exceptions.APIException)
    return defaults.server_error(request)


def database_unavailable(request, exc: Exception) -> HttpResponse:
    """503 with ``Retry-After`` for a request the database failed: JSON under the API's prefixes."""
    if is_api_path(request.path):
        wechat = request.path.startswith(WECHAT_PREFIXES)
        with translation.override("en") if wechat else nullcontext():
            response = database_unavailable_response(exc, wechat=wechat)
            json_response = JsonResponse(
                _resolved(response.data),
                status=503,
                json_dumps_params={"ensure_ascii": False, "separators": (",", ":")},
            )
        json_response["Retry-After"] = response["Retry-After"]
        return json_response
    response = HttpResponse(str(DATABASE_UNAVAILABLE_MESSAGE), status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response
