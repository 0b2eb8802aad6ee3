"""Request body limits, enforced before anything reads or parses the body (issue 9 §4).

A JSON API request (``/api/``, ``/cgi-bin/``, ``/wxa/``) may carry at most ``API_MAX_BODY_BYTES``
(256 KiB by default); anything else (the admin, whose roster uploads are the largest bodies) at
most ``UPLOAD_MAX_BODY_BYTES``. A larger declared ``Content-Length`` answers 413 at once, in the
API's error shape; a body without ``Content-Length`` is not read by Django at all (WSGI).
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from core.wechat.errcodes import ErrCode, envelope

API_PREFIXES = ("/api/", "/cgi-bin/", "/wxa/")
WECHAT_PREFIXES = ("/cgi-bin/", "/wxa/", "/api/v1/device/")


def body_limit(path: str) -> int:
    """The most bytes a request body to ``path`` may have."""
    return settings.API_MAX_BODY_BYTES if path.startswith(API_PREFIXES) else settings.UPLOAD_MAX_BODY_BYTES


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = body_limit(request.path)
        if length > limit:
            return self._too_large(request, limit)
        return self.get_response(request)

    @staticmethod
    def _too_large(request, limit: int) -> HttpResponse:
        message = _("The request body is larger than %(limit)d bytes.") % {"limit": limit}
        if request.path.startswith(WECHAT_PREFIXES):
            return JsonResponse(envelope(ErrCode.BAD_DATA, message), status=413)
        if request.path.startswith(API_PREFIXES):
            return JsonResponse({"detail": message, "code": "too_large"}, status=413)
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
