"""Domain errors raised by services, selectors and authentication; ``core.exceptions`` answers them.

Services never build HTTP responses: they raise one of these, and every API fails the same way.
``field`` names the input at fault; ``errcode`` is what a WeChat-compatible endpoint answers
(``core.wechat.errcodes``; without one, the handler picks it from the HTTP status).
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import status


class ApplicationError(Exception):
    """A request the domain refuses (HTTP 400 unless a subclass says otherwise).

    Without a ``message``, a WeChat-compatible endpoint answers the errcode's own errmsg.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    default_message = ""

    def __init__(self, message="", *, field: str | None = None, code: str | None = None, errcode: int | None = None):
        message = message or self.default_message
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.code = code or self.default_code
        self.errcode = errcode


class Unauthorized(ApplicationError):
    """Credentials missing, unknown or expired (the WeChat-compatible API's 41001 / 40001 / 42001 …)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "not_authenticated"


class NotFound(ApplicationError):
    """Missing, inactive, or not the actor's: the three answer alike so that nothing leaks."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "forbidden"


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class TooManyRequests(ApplicationError):
    """A limit reached; ``retry_after`` (seconds) becomes the ``Retry-After`` header."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "throttled"

    def __init__(self, message="", *, retry_after: int | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamUnavailable(ApplicationError):
    """WeChat (or another upstream) is busy or unreachable; the client may retry later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "upstream_unavailable"
    default_message = _("WeChat is busy or unreachable; try again later.")


class UpstreamError(ApplicationError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "upstream_error"
