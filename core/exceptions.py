"""The one exception handler of the REST API (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

Mini-program API answers ``{"detail": str, "code": str, "field"?: str, "errors"?: {field: [str]}}``;
``detail`` always names the field at fault when there is one. Views marked ``wechat_compatible``
(``core.wechat.views.WeChatCompatibleApi``) answer WeChat's ``{"errcode": int, "errmsg": str}``
instead (REFERENCE.md §5), with a 4xx/5xx status. No view builds an error body itself.

The database unreachable or dropping the connection (a PostgreSQL restart: Django's
``OperationalError`` / ``InterfaceError``) answers 503 with ``Retry-After``: ``{"detail", "code":
"service_unavailable"}``, or WeChat's "system busy" ``{"errcode": -1, "errmsg": "system busy"}``;
Django closes the broken connection when the request ends, so the next request reconnects.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError
from core.wechat.errcodes import ErrCode, envelope

logger = logging.getLogger(__name__)

# The errcode of an ApplicationError raised without one, by HTTP status.
ERRCODE_BY_STATUS = {400: ErrCode.BAD_DATA, 404: ErrCode.NOT_FOUND, 409: ErrCode.CONFLICT}
# The database cannot be reached or dropped the connection (or a lock or deadlock to retry): 503.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER = 5  # seconds, the Retry-After of a 503
DATABASE_UNAVAILABLE_MESSAGE = _("The service is briefly unavailable; try again in a few seconds.")


def database_unavailable_response(exc: Exception, *, wechat: bool) -> Response:
    """503 with ``Retry-After`` for a database error of ``DATABASE_UNAVAILABLE``, in the API's shape."""
    logger.warning("database unavailable: %s: %s", type(exc).__name__, (str(exc).strip().splitlines() or [""])[0])
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if wechat:
        return Response(envelope(ErrCode.BUSY), status=503, headers=headers)
    body = {"detail": str(DATABASE_UNAVAILABLE_MESSAGE), "code": "service_unavailable"}
    return Response(body, status=503, headers=headers)


def first_error(detail) -> tuple[str | None, str]:
    """(field, message) of the first error in a DRF ValidationError detail; nested fields as ``a.b``."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner_field, message = first_error(value)
            name = field if inner_field is None else f"{field}.{inner_field}"
            return (None if name == "non_field_errors" else name), message
    if isinstance(detail, list) and detail:
        return first_error(detail[0])
    return None, str(detail)


def _with_field(field: str | None, message) -> str:
    return f"{field}: {message}" if field else str(message)


def _wechat_error(exc) -> tuple[int, str]:
    """(errcode, errmsg) of a DRF exception on a WeChat-compatible endpoint."""
    if isinstance(exc, exceptions.ValidationError):
        return ErrCode.BAD_DATA, _with_field(*first_error(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return ErrCode.BAD_DATA, f"{ErrCode.BAD_DATA.errmsg}: {exc.detail}"
    if isinstance(exc, exceptions.NotAuthenticated):
        return ErrCode.TOKEN_MISSING, ErrCode.TOKEN_MISSING.errmsg
    if isinstance(exc, (exceptions.AuthenticationFailed, exceptions.PermissionDenied)):
        return ErrCode.INVALID_CREDENTIAL, ErrCode.INVALID_CREDENTIAL.errmsg
    if isinstance(exc, exceptions.NotFound):
        return ErrCode.NOT_FOUND, str(exc.detail)
    if isinstance(exc, exceptions.Throttled):
        return ErrCode.FREQ_LIMIT, ErrCode.FREQ_LIMIT.errmsg
    return ErrCode.BUSY, str(getattr(exc, "detail", exc))


def _application_error(exc: ApplicationError, *, wechat: bool) -> Response:
    message = exc.message or (ErrCode(exc.errcode).errmsg if exc.errcode is not None else "")
    detail = _with_field(exc.field, message)
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    if wechat:
        errcode = exc.errcode if exc.errcode is not None else ERRCODE_BY_STATUS.get(exc.status_code, ErrCode.BUSY)
        return Response(envelope(errcode, detail), status=exc.status_code, headers=headers)
    body = {"detail": detail, "code": exc.code}
    if exc.field:
        body["field"] = exc.field
    return Response(body, status=exc.status_code, headers=headers)


def api_exception_handler(exc, context):
    """Turn domain and DRF exceptions into one JSON shape; anything unexpected stays a 500 (and is logged)."""
    wechat = getattr(context.get("view"), "wechat_compatible", False)
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return database_unavailable_response(exc, wechat=wechat)
    if isinstance(exc, ApplicationError):
        return _application_error(exc, wechat=wechat)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if wechat:
        return Response(envelope(*_wechat_error(exc)), status=response.status_code, headers=response.headers)
    if isinstance(exc, exceptions.ValidationError):
        field, message = first_error(exc.detail)
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "detail": _with_field(field, message),
            "code": "invalid",
            **({"field": field} if field else {}),
            "errors": detail,
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data["code"] = (
            exc.detail.code if hasattr(exc.detail, "code") else getattr(exc, "default_code", "error")
        )
    return response
