"""``?access_token=`` authentication of the vendors' API, with tokens from ``/cgi-bin/token``.

The protocol (41001 missing, 40001 unknown, 42001 expired) is ``core.wechat.authentication``'s;
``request.user`` becomes the ``ApiClient``, whose school bounds everything the request may see.
"""

from rest_framework.permissions import BasePermission

from core.wechat.authentication import WeChatAccessTokenAuthentication
from schools.models import ApiClient
from schools.selectors import api_access_token_get


class AccessTokenAuthentication(WeChatAccessTokenAuthentication):
    def lookup(self, raw):
        token = api_access_token_get(token=raw)
        return None if token is None else (token.client, token, token.expires_at)


class IsApiClient(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, ApiClient)
