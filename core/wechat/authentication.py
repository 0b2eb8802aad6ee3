"""``?access_token=`` authentication of the WeChat-compatible server-to-server API (REFERENCE.md §5).

The protocol lives here; where tokens are stored is the subclass's business (``lookup``).
Missing → errcode 41001, unknown → 40001, expired → 42001, each with HTTP 401.
"""

from datetime import datetime

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication

from core.errors import Unauthorized
from core.wechat.errcodes import ErrCode


class WeChatAccessTokenAuthentication(authentication.BaseAuthentication):
    """``request.user``/``request.auth`` become what ``lookup`` finds for the raw ``access_token``."""

    def lookup(self, raw: str) -> tuple[object, object, datetime] | None:
        """``(user, auth, expires_at)`` of a raw token (expired or not), or None when unknown."""
        raise NotImplementedError

    def authenticate(self, request):
        raw = request.query_params.get("access_token", "")
        if not raw:
            raise Unauthorized(errcode=ErrCode.TOKEN_MISSING)
        found = self.lookup(raw)
        if found is None:
            raise Unauthorized(errcode=ErrCode.INVALID_CREDENTIAL)
        user, auth, expires_at = found
        if expires_at <= timezone.now():
            raise Unauthorized(errcode=ErrCode.TOKEN_EXPIRED)
        return user, auth

    def authenticate_header(self, request):
        return 'access_token realm="wechat-compatible"'


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = WeChatAccessTokenAuthentication
    match_subclasses = True
    name = "AccessToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "query", "name": "access_token", "description": "From GET /cgi-bin/token."}
