"""``?access_token=`` authentication of the WeChat-compatible server-to-server API (REFERENCE.md §5).

Missing → errcode 41001, unknown → 40001, expired → 42001; ``request.user`` becomes the
``ApiClient``, whose school bounds everything the request may see.
"""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, status
from rest_framework.permissions import BasePermission

from portal.exceptions import WeChatApiError

from .models import ApiClient
from .selectors import api_access_token_get

ERRCODE_TOKEN_MISSING = 41001
ERRCODE_INVALID_CREDENTIAL = 40001
ERRCODE_TOKEN_EXPIRED = 42001


class AccessTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = request.query_params.get("access_token", "")
        if not raw:
            raise WeChatApiError(ERRCODE_TOKEN_MISSING, "access_token missing", status.HTTP_401_UNAUTHORIZED)
        token = api_access_token_get(token=raw)
        if token is None:
            raise WeChatApiError(
                ERRCODE_INVALID_CREDENTIAL,
                "invalid credential, access_token is invalid or not latest",
                status.HTTP_401_UNAUTHORIZED,
            )
        if token.expires_at <= timezone.now():
            raise WeChatApiError(ERRCODE_TOKEN_EXPIRED, "access_token expired", status.HTTP_401_UNAUTHORIZED)
        return token.client, token

    def authenticate_header(self, request):
        return 'access_token realm="wechat-compatible"'


class IsApiClient(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, ApiClient)


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = "schools.authentication.AccessTokenAuthentication"
    name = "AccessToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "query", "name": "access_token", "description": "From GET /cgi-bin/token."}
