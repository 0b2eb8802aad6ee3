"""WeChat-compatible ``GET /cgi-bin/token`` for device vendors' backends (REFERENCE.md §5)."""

import re

from django.conf import settings
from django.utils import translation
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.exceptions import WeChatApiError

from .selectors import api_client_get_active, api_client_secret_matches
from .services import api_access_token_issue

APPID_RE = re.compile(r"[0-9A-Za-z_\-]{1,32}")
ERRCODE_INVALID_GRANT_TYPE = 40002
ERRCODE_INVALID_APPID = 40013
ERRCODE_INVALID_SECRET = 40001  # WeChat: "AppSecret错误或者AppSecret不属于这个小程序"
ERRCODE_APPID_MISSING = 41002
ERRCODE_SECRET_MISSING = 41004


class WeChatCompatibleApi(APIView):
    """Base of endpoints that mirror WeChat's server API: errors answer ``{errcode, errmsg}``.

    WeChat reads POST bodies as JSON whatever their Content-Type, and SDKs written for it often
    send none, so these views do the same.
    """

    wechat_compatible = True

    def dispatch(self, request, *args, **kwargs):
        # Vendors' code is written against WeChat, whose errmsg texts are English.
        with translation.override("en"):
            return super().dispatch(request, *args, **kwargs)

    def initialize_request(self, request, *args, **kwargs):
        if request.method == "POST":
            request.META["CONTENT_TYPE"] = "application/json"
        return super().initialize_request(request, *args, **kwargs)


WECHAT_ERROR = inline_serializer(
    "WeChatError", {"errcode": serializers.IntegerField(), "errmsg": serializers.CharField()}
)


class AccessTokenApi(WeChatCompatibleApi):
    """``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` → ``{access_token, expires_in}``.

    ``expires_in`` is 7200 seconds. Errors ``{errcode, errmsg}``: 40002 bad grant_type, 41002 /
    41004 appid / secret missing, 40013 unknown appid, 40001 wrong secret.
    """

    authentication_classes = []
    permission_classes = []

    @extend_schema(
        parameters=[
            OpenApiParameter("grant_type", str, required=True, enum=["client_credential"]),
            OpenApiParameter("appid", str, required=True),
            OpenApiParameter("secret", str, required=True),
        ],
        responses={
            200: inline_serializer(
                "AccessToken", {"access_token": serializers.CharField(), "expires_in": serializers.IntegerField()}
            ),
            400: WECHAT_ERROR,
            401: WECHAT_ERROR,
        },
        tags=["wechat-compatible"],
    )
    def get(self, request):
        params = request.query_params
        if params.get("grant_type") != "client_credential":
            raise WeChatApiError(ERRCODE_INVALID_GRANT_TYPE, "invalid grant_type: must be client_credential")
        appid, secret = params.get("appid", ""), params.get("secret", "")
        if not appid:
            raise WeChatApiError(ERRCODE_APPID_MISSING, "appid missing")
        if not secret:
            raise WeChatApiError(ERRCODE_SECRET_MISSING, "secret missing")
        client = api_client_get_active(appid=appid) if APPID_RE.fullmatch(appid) else None
        if client is None:
            raise WeChatApiError(ERRCODE_INVALID_APPID, "invalid appid", status.HTTP_401_UNAUTHORIZED)
        if not api_client_secret_matches(client=client, secret=secret):
            raise WeChatApiError(
                ERRCODE_INVALID_SECRET, "invalid credential, secret is wrong", status.HTTP_401_UNAUTHORIZED
            )
        token, _expires_at = api_access_token_issue(client=client)
        return Response({"access_token": token, "expires_in": int(settings.API_ACCESS_TOKEN_TTL.total_seconds())})
