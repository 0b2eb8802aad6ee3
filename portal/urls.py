"""URL map: admin, the mini-program API (/api/v1/), the WeChat-compatible API, OpenAPI docs."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.decorators import api_view, authentication_classes, permission_classes

from contacts.apis.wechat import VoipContactListApi
from core.errors import NotFound
from schools.apis import AccessTokenApi


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer 404 like every other API error (``core.exceptions``)."""
    raise NotFound(_("Not found."))


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
