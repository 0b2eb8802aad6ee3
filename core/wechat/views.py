"""The base of endpoints that mirror WeChat's server API, and their answers (REFERENCE.md §5).

A WeChat-compatible view answers success through ``wechat_response`` and fails by raising
(``core.errors``): ``core.exceptions`` then answers ``{errcode, errmsg}``. Code written for
``api.weixin.qq.com`` can point at the portal.
"""

from django.utils import translation
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.wechat.errcodes import ErrCode, envelope


class WeChatCompatibleApi(APIView):
    """Errors answer ``{errcode, errmsg}``; errmsg texts are English like WeChat's.

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


def wechat_response(errcode: int = ErrCode.OK, **data) -> Response:
    """HTTP 200 with ``{"errcode", "errmsg", **data}``; errmsg is the code's (``"ok"`` for 0)."""
    return Response(envelope(errcode, **data))


WECHAT_ERROR = inline_serializer(
    "WeChatError", {"errcode": serializers.IntegerField(), "errmsg": serializers.CharField()}
)


def wechat_schema(name: str, fields: dict) -> serializers.Serializer:
    """The OpenAPI shape of a WeChat answer: ``errcode``, ``errmsg`` and ``fields``."""
    return inline_serializer(name, {"errcode": serializers.IntegerField(), "errmsg": serializers.CharField(), **fields})


def wechat_responses(ok, *error_statuses: int) -> dict:
    """The OpenAPI ``responses`` of a WeChat-compatible endpoint: ``ok`` for HTTP 200 and
    ``{errcode, errmsg}`` for each of ``error_statuses``."""
    return {200: ok, **dict.fromkeys(error_statuses, WECHAT_ERROR)}
