"""URL map: admin, the mini-program API (/api/v1/), the WeChat-compatible API, OpenAPI docs."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from contacts.apis.wechat import VoipContactListApi
from schools.apis import AccessTokenApi


def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer JSON, like every other API error."""
    return JsonResponse({"detail": gettext("Not found."), "code": "not_found"}, status=404)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("contacts.urls")),
    path("api/v1/", include("calls.urls")),
    path("api/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="swagger-ui",
    ),
    # WeChat-compatible server-to-server API: code written for api.weixin.qq.com can point here.
    path("cgi-bin/token", AccessTokenApi.as_view(), name="wechat-token"),
    path("wxa/business/getvoipcontactlist", VoipContactListApi.as_view(), name="wechat-getvoipcontactlist"),
    re_path(r"^api/", api_not_found),
]
