"""WeChat-compatible ``GET /cgi-bin/token`` for device vendors' backends (REFERENCE.md §5)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from core.throttling import AddressRateThrottle, AppidRateThrottle
from core.wechat.views import WeChatCompatibleApi, wechat_responses
from schools.services.api_clients import api_access_token_grant


class AccessTokenApi(WeChatCompatibleApi):
    """``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` → ``{access_token, expires_in}``.

    ``expires_in`` is 7200 seconds. Errors ``{errcode, errmsg}``: 40002 bad grant_type, 41002 /
    41004 appid / secret missing (HTTP 400), 40001 unknown appid or wrong secret alike (HTTP 401),
    45009 (HTTP 429, ``Retry-After``) past the limits per appid and per address.
    """

    authentication_classes = []
    permission_classes = []
    # Per appid and per address; WeChat answers 45009 when its own limit is reached.
    throttle_classes = [AppidRateThrottle, AddressRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        parameters=[
            OpenApiParameter("grant_type", str, required=True, enum=["client_credential"]),
            OpenApiParameter("appid", str, required=True),
            OpenApiParameter("secret", str, required=True),
        ],
        responses=wechat_responses(
            inline_serializer(
                "AccessToken", {"access_token": serializers.CharField(), "expires_in": serializers.IntegerField()}
            ),
            400,
            401,
        ),
        tags=["wechat-compatible"],
    )
    def get(self, request):
        params = request.query_params
        token, _expires_at = api_access_token_grant(
            grant_type=params.get("grant_type", ""), appid=params.get("appid", ""), secret=params.get("secret", "")
        )
        return Response({"access_token": token, "expires_in": int(settings.API_ACCESS_TOKEN_TTL.total_seconds())})
