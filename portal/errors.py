"""Domain errors raised by services and selectors; ``portal.exceptions`` turns them into HTTP answers.

Services never build HTTP responses: they raise one of these, and every API fails the same way.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import status


class ApplicationError(Exception):
    """A request the domain refuses. ``field`` names the input at fault, when there is one."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message, *, field: str | None = None, code: str | None = None, errcode: int | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.code = code or self.default_code
        self.errcode = errcode  # what a WeChat-compatible endpoint answers; see portal.exceptions


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
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "throttled"


class UpstreamUnavailable(ApplicationError):
    """WeChat (or another upstream) is busy or unreachable; the client may retry later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "upstream_unavailable"

    def __init__(self, message=_("WeChat is busy or unreachable; try again later."), **kwargs):
        super().__init__(message, **kwargs)


class UpstreamError(ApplicationError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "upstream_error"
