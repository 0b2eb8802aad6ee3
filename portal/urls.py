"""URL map: admin, the mini-program API (/api/v1/), the WeChat-compatible API, OpenAPI docs."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from health_check.views import HealthCheckView
from rest_framework.decorators import api_view, authentication_classes, permission_classes

from contacts.apis.wechat import VoipContactListApi
from core import health
from core.error_views import page_not_found
from schools.apis import AccessTokenApi

# Under /api/, /cgi-bin/ and /wxa/ errors answer JSON in the API's shape (core.error_views);
# elsewhere Django's pages. With DEBUG on, Django shows its debug pages instead of these handlers
# (except under /api/, which api_not_found catches).
handler400 = "core.error_views.bad_request"
handler403 = "core.error_views.permission_denied"
handler404 = "core.error_views.page_not_found"
handler500 = "core.error_views.server_error"


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer 404 like every other API error, DEBUG or not (``core.error_views``)."""
    return page_not_found(request, None)


urlpatterns = [
    # Probes for the load balancer / orchestrator (core.health); exempt from the HTTPS redirect.
    path("health/live", health.live, name="health-live"),
    path("health/ready", HealthCheckView.as_view(checks=health.READINESS_CHECKS), name="health-ready"),
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
