"""The one exception handler of the REST API (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

Mini-program API answers ``{"detail": str, "code": str, "field"?: str, "errors"?: {field: [str]}}``;
``detail`` always names the field at fault when there is one. Views marked ``wechat_compatible``
answer WeChat's ``{"errcode": int, "errmsg": str}`` instead (REFERENCE.md §5), with a 4xx status.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError

# WeChat's codes for the generic failures of any endpoint.
WECHAT_ERRCODE_BAD_DATA = 47001  # "data format error"
WECHAT_ERRCODE_NO_TOKEN = 41001  # "access_token missing"
WECHAT_ERRCODE_INVALID_CREDENTIAL = 40001
WECHAT_ERRCODE_NOT_FOUND = 40004
WECHAT_ERRCODE_BUSY = -1
WECHAT_ERRCODE_CONFLICT = 9300009  # the portal's: the request conflicts with what is recorded
WECHAT_ERRCODE_BY_STATUS = {400: WECHAT_ERRCODE_BAD_DATA, 404: WECHAT_ERRCODE_NOT_FOUND, 409: WECHAT_ERRCODE_CONFLICT}


class WeChatApiError(exceptions.APIException):
    """An error of a WeChat-compatible endpoint: ``{"errcode", "errmsg"}`` with a 4xx/5xx status."""

    def __init__(self, errcode: int, errmsg: str, status_code: int = status.HTTP_400_BAD_REQUEST):
        super().__init__(detail=errmsg)
        self.errcode = errcode
        self.errmsg = errmsg
        self.status_code = status_code


def _first_message(detail) -> tuple[str | None, str]:
    """(field, message) of the first error in a DRF ValidationError detail."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner_field, message = _first_message(value)
            name = field if inner_field is None else f"{field}.{inner_field}"
            return (None if name == "non_field_errors" else name), message
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return None, str(detail)


def _wechat_response(exc, response) -> Response:
    if isinstance(exc, WeChatApiError):
        errcode, errmsg = exc.errcode, exc.errmsg
    elif isinstance(exc, exceptions.ValidationError):
        field, message = _first_message(exc.detail)
        errcode, errmsg = WECHAT_ERRCODE_BAD_DATA, f"{field}: {message}" if field else message
    elif isinstance(exc, exceptions.ParseError):
        errcode, errmsg = WECHAT_ERRCODE_BAD_DATA, f"data format error: {exc.detail}"
    elif isinstance(exc, exceptions.NotAuthenticated):
        errcode, errmsg = WECHAT_ERRCODE_NO_TOKEN, "access_token missing"
    elif isinstance(exc, (exceptions.AuthenticationFailed, exceptions.PermissionDenied)):
        errcode, errmsg = WECHAT_ERRCODE_INVALID_CREDENTIAL, "invalid credential, access_token is invalid"
    elif isinstance(exc, exceptions.NotFound):
        errcode, errmsg = WECHAT_ERRCODE_NOT_FOUND, str(exc.detail)
    else:
        errcode, errmsg = WECHAT_ERRCODE_BUSY, str(getattr(exc, "detail", exc))
    return Response({"errcode": errcode, "errmsg": errmsg}, status=response.status_code, headers=response.headers)


def api_exception_handler(exc, context):
    """Turn domain and DRF exceptions into one JSON shape; anything unexpected stays a 500 (and is logged)."""
    if isinstance(exc, ApplicationError):
        body = {"detail": str(exc.message), "code": exc.code}
        if exc.field:
            body["field"] = exc.field
            body["detail"] = f"{exc.field}: {exc.message}"
        if getattr(context.get("view"), "wechat_compatible", False):
            errcode = (
                exc.errcode
                if exc.errcode is not None
                else WECHAT_ERRCODE_BY_STATUS.get(exc.status_code, WECHAT_ERRCODE_BUSY)
            )
            exc = WeChatApiError(errcode, body["detail"], exc.status_code)
        else:
            return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if getattr(context.get("view"), "wechat_compatible", False):
        return _wechat_response(exc, response)
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_message(exc.detail)
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "detail": f"{field}: {message}" if field else message,
            "code": "invalid",
            **({"field": field} if field else {}),
            "errors": detail,
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data["code"] = (
            getattr(exc, "default_code", "error") if not hasattr(exc.detail, "code") else exc.detail.code
        )
    return response
