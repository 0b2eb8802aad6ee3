"""The OpenAPI schema's error answers (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``, served at ``/api/schema/``).

Every view fails through ``core.exceptions``: the mini-program API with ``API_ERROR``
(``{detail, code, field?, errors?}``), the WeChat-compatible views with ``WECHAT_ERROR``
(``{errcode, errmsg}``). ``PortalAutoSchema`` lists, for every operation, the failures the
framework itself gives it, so that no view has to repeat them: 401 when it authenticates, 400 when
it reads a body or query parameters, 404 when its path names an object, 429 when it is throttled,
503 (every operation) while the database is unreachable.
A view declares its own other refusals (403, 409, 404 for objects named in a body …) in
``extend_schema``; a status it declares is never replaced.
"""

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import PolymorphicProxySerializer, inline_serializer
from rest_framework import serializers

from core.wechat.views import WECHAT_ERROR

API_ERROR = inline_serializer(
    "ApiError",
    {
        "detail": serializers.CharField(help_text="what went wrong, naming the field at fault when there is one"),
        "code": serializers.CharField(help_text="stable machine-readable code, e.g. invalid, not_found, not_admin"),
        "field": serializers.CharField(required=False, help_text="the input at fault"),
        "errors": serializers.DictField(required=False, help_text="validation errors by field (400 invalid only)"),
    },
)


def api_error_or(name: str, serializer) -> PolymorphicProxySerializer:
    """A body that is either ``serializer`` (a decision the endpoint answers with this status) or
    ``API_ERROR`` (the same status raised as an error), as component ``name``."""
    return PolymorphicProxySerializer(
        component_name=name, serializers=[serializer, API_ERROR], resource_type_field_name=None
    )


def _is_throttled(view) -> bool:
    """Whether any of the view's throttles has a rate (``core.throttling`` scopes ``<scope>_<key>``)."""
    scope = getattr(view, "throttle_scope", None)
    if not scope or not getattr(view, "throttle_classes", None):
        return False
    rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
    return any(name == scope or name.startswith(f"{scope}_") for name in rates)


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's ``AutoSchema`` with the error answers every operation may give (module docstring)."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        statuses = []
        if operation.get("security"):
            statuses.append(401)
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            statuses.append(400)
        if any(p["in"] == "path" for p in parameters):
            statuses.append(404)
        if _is_throttled(self.view):
            statuses.append(429)
        statuses.append(503)  # the database is briefly unreachable (core.exceptions): try again
        error = WECHAT_ERROR if getattr(self.view, "wechat_compatible", False) else API_ERROR
        responses = operation["responses"]
        for status in statuses:
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(error, str(status))
        operation["responses"] = dict(sorted(responses.items()))
        return operation
