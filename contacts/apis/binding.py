"""Binding a parent to a student: the portal's gate before the plugin binds, share links, and the
plugin's bindContact events reported back (seed 003 §2.1, §2.5). The order of calls is drawn in
README's "Mini-program integration"."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.mini_program import share_link_path
from contacts.models import BindEvent, Contact, ShareLink
from contacts.selectors.scenes import scene_student_get
from contacts.selectors.share_links import share_link_get
from contacts.services.bind_events import BindDecision
from contacts.services.binding import admin_bind, bind_event_report, share_link_bind
from contacts.services.share_links import share_link_create
from core.errors import NotFound
from core.fields import StrictCharField
from core.schema import API_ERROR, api_error_or
from core.throttling import AddressRateThrottle, ScopedRateThrottle

RELATION_MAX = Contact._meta.get_field("relation").max_length
PLUGIN_PATH_MAX = ShareLink._meta.get_field("plugin_path").max_length
CLAIM_CODE_INPUT_MAX = 32  # 10 symbols, with room for the dash and spaces a parent types

# HTTP status of each refusal (seed 003 §2.5's bindContact types); allowed answers 200.
REFUSAL_STATUS = {
    BindEvent.Type.BINDED: status.HTTP_200_OK,
    BindEvent.Type.AUTH: status.HTTP_403_FORBIDDEN,
    BindEvent.Type.INVALID: status.HTTP_404_NOT_FOUND,
    BindEvent.Type.OVERLOAD: status.HTTP_409_CONFLICT,
    BindEvent.Type.EXPIRE: status.HTTP_410_GONE,
}


class BindDecisionSerializer(serializers.Serializer):
    """``{allowed, userId, state?}`` when allowed (``state``: pending until WeChat confirms); when
    refused, ``{allowed, type, errMsg, userId}`` with the bindContact type (seed 003 §2.5)."""

    allowed = serializers.BooleanField()
    # WeChat's names at the boundary, snake_case inside.
    userId = serializers.CharField(source="user_id")  # noqa: N815
    type = serializers.CharField(required=False)
    errMsg = serializers.CharField(source="err_msg", required=False)  # noqa: N815
    state = serializers.CharField(source="contact.state", required=False)

    def to_representation(self, decision):
        body = super().to_representation(decision)
        keep = ("allowed", "userId", "state") if decision.allowed else ("allowed", "type", "errMsg", "userId")
        return {key: body[key] for key in keep if key in body}


def bind_response(decision: BindDecision) -> Response:
    code = status.HTTP_200_OK if decision.allowed else REFUSAL_STATUS[decision.type]
    return Response(BindDecisionSerializer(decision).data, status=code)


BIND_RESPONSES = {
    200: OpenApiResponse(BindDecisionSerializer, description="allowed (now call the plugin), or binded"),
    403: OpenApiResponse(BindDecisionSerializer, description="auth: scope.voip not granted"),
    404: OpenApiResponse(
        BindDecisionSerializer, description="invalid: unknown, revoked or stale link, inactive student"
    ),
    409: OpenApiResponse(
        api_error_or("BindOverloadOrConflict", BindDecisionSerializer),
        description="overload: contact limit reached; or an error (another admin exists, a concurrent change)",
    ),
    410: OpenApiResponse(BindDecisionSerializer, description="expire: the share link has expired"),
}


class RelationInputSerializer(serializers.Serializer):
    relation = StrictCharField(max_length=RELATION_MAX, required=False, allow_blank=True, default="")


class AdminBindInputSerializer(RelationInputSerializer):
    claim_code = StrictCharField(max_length=CLAIM_CODE_INPUT_MAX, required=False, allow_blank=True, default="")


class AdminBindApi(APIView):
    """``POST /api/v1/students/{user_id}/admin`` ``{relation?, claim_code?}``: before
    bindVoipAdminContact (seed 003 §2.1).

    May the caller become the student's admin contact? Allowed → 200 ``{allowed: true, userId,
    state}``: the mini-program now calls ``bindVoipAdminContact`` and reports its event
    (``POST /api/v1/bind-events``). Refused → ``binded`` 200, ``auth`` 403, ``overload`` 409; 409
    ``admin_exists`` when another parent is admin; 404 for an unknown or inactive student. When
    the school requires a claim code (the one on the student's letter, any case, dash optional):
    400 naming ``claim_code`` when it is missing, or wrong, expired, used or revoked (one answer for
    the four); 429 after ``CLAIM_CODE_MAX_ATTEMPTS`` wrong codes for the student within
    ``CLAIM_CODE_WINDOW``, until that window ends.
    """

    # Guessing tokens, scenes or claim codes: per parent and per address (core.throttling).
    throttle_classes = [ScopedRateThrottle, AddressRateThrottle]
    throttle_scope = "bind"

    @extend_schema(
        request=AdminBindInputSerializer,
        responses={
            **{code: BIND_RESPONSES[code] for code in (200, 403, 409)},
            400: OpenApiResponse(API_ERROR, description="claim_code missing or not valid, or a malformed body"),
            404: OpenApiResponse(API_ERROR, description="unknown or inactive student"),
            429: OpenApiResponse(API_ERROR, description="too many wrong claim codes for this student, or requests"),
        },
        tags=["binding"],
    )
    def post(self, request, user_id):
        data = AdminBindInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return bind_response(admin_bind(parent=request.user, user_id=user_id, **data.validated_data))


class ShareLinkCreateApi(APIView):
    """``POST /api/v1/students/{user_id}/share-links`` ``{plugin_path, user_name?, user_avatar?}``, admin only.

    ``plugin_path`` is what ``getBindContactPath`` gave the admin's mini-program (seed 003 §2.1):
    the plugin's bind page. → 201 ``{path, token, expires_at}``; ``path`` is the mini-program's own
    bind page carrying the portal's token, to use in ``onShareAppMessage``: that page asks the
    portal first (``/share-links/{token}/bind``) and then opens ``plugin_path``. 403 for an
    ordinary contact, 404 when the caller is not a contact of the student.
    """

    class ShareLinkCreateInputSerializer(serializers.Serializer):
        plugin_path = StrictCharField(max_length=PLUGIN_PATH_MAX, required=False, allow_blank=True, default="")
        user_name = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
        user_avatar = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")

    class ShareLinkCreateOutputSerializer(serializers.Serializer):
        path = serializers.CharField()
        token = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        request=ShareLinkCreateInputSerializer,
        responses={201: ShareLinkCreateOutputSerializer, 403: API_ERROR},
        tags=["binding"],
    )
    def post(self, request, user_id):
        data = self.ShareLinkCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link, token = share_link_create(parent=request.user, user_id=user_id, **data.validated_data)
        body = {"path": share_link_path(token), "token": token, "expires_at": link.expires_at}
        return Response(self.ShareLinkCreateOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class ShareLinkDetailApi(APIView):
    """``GET /api/v1/share-links/{token}``: what the bind page shows before binding.

    → ``{user_name, user_avatar, school, expires_at, state, plugin_path}``; 404 for an unknown token.
    """

    # Guessing tokens, scenes or claim codes: per parent and per address (core.throttling).
    throttle_classes = [ScopedRateThrottle, AddressRateThrottle]
    throttle_scope = "bind"

    class ShareLinkDetailOutputSerializer(serializers.Serializer):
        user_name = serializers.CharField()
        user_avatar = serializers.CharField()
        school = serializers.CharField(source="student.school.name")
        expires_at = serializers.DateTimeField()
        state = serializers.CharField()
        plugin_path = serializers.CharField(help_text="the plugin's bind page, to open once the portal allows")

    @extend_schema(responses={200: ShareLinkDetailOutputSerializer}, tags=["binding"])
    def get(self, request, token):
        link = share_link_get(token=token)
        if link is None:
            raise NotFound(_("No such share link."), field="token")
        return Response(self.ShareLinkDetailOutputSerializer(link).data)


class SceneDetailApi(APIView):
    """``GET /api/v1/scenes/{scene}``: the student of a mini-program code, as the admin-binding page
    opened from a claim-code letter (or a class poster) gets ``scene`` in its launch options.

    → ``{user_id, name, school, class_name}``: what the page shows before ``POST
    /api/v1/students/{user_id}/admin``. Any logged-in parent may ask (the code is printed for the
    family to scan); 404 naming ``scene`` for an unknown scene or an inactive student or school.
    """

    # Guessing tokens, scenes or claim codes: per parent and per address (core.throttling).
    throttle_classes = [ScopedRateThrottle, AddressRateThrottle]
    throttle_scope = "bind"

    class SceneDetailOutputSerializer(serializers.Serializer):
        user_id = serializers.CharField()
        name = serializers.CharField()
        school = serializers.CharField(source="school.name")
        class_name = serializers.CharField()

    @extend_schema(
        responses={
            200: SceneDetailOutputSerializer,
            404: OpenApiResponse(API_ERROR, description="unknown scene, or inactive student or school"),
        },
        tags=["binding"],
    )
    def get(self, request, scene):
        student = scene_student_get(scene=scene)
        return Response(self.SceneDetailOutputSerializer(student).data)


class ShareLinkBindApi(APIView):
    """``POST /api/v1/share-links/{token}/bind`` ``{relation?}``: before the plugin's bind page.

    Allowed → 200 ``{allowed: true, userId, state}``: the bind page opens the link's
    ``plugin_path`` and reports the plugin's event. Refused (seed 003 §2.5) → ``binded`` 200,
    ``auth`` 403, ``invalid`` 404, ``overload`` 409, ``expire`` 410.
    """

    # Guessing tokens, scenes or claim codes: per parent and per address (core.throttling).
    throttle_classes = [ScopedRateThrottle, AddressRateThrottle]
    throttle_scope = "bind"

    @extend_schema(request=RelationInputSerializer, responses=BIND_RESPONSES, tags=["binding"])
    def post(self, request, token):
        data = RelationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return bind_response(share_link_bind(parent=request.user, token=token, **data.validated_data))


class BindEventReportApi(APIView):
    """``POST /api/v1/bind-events`` ``{type, errMsg, userId}``: the plugin's bindContact event, as
    ``onVoipEvent`` gave it to the mini-program (seed 003 §2.5), every type included.

    → 200 ``{userId, state}``: the caller's contact of the student as it now stands (``state`` null
    when there is none). The report is checked against WeChat's list before anything is served
    (``bind_event_report``). 400 for an unknown type, 404 for an unknown or inactive student.
    """

    class BindEventReportInputSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=BindEvent.Type.choices)
        errMsg = StrictCharField(max_length=255, required=False, allow_blank=True, default="", source="err_msg")  # noqa: N815
        userId = StrictCharField(max_length=128, source="user_id")  # noqa: N815

    class BindEventReportOutputSerializer(serializers.Serializer):
        userId = serializers.CharField()  # noqa: N815
        state = serializers.CharField(allow_null=True)

    @extend_schema(
        request=BindEventReportInputSerializer,
        responses={200: BindEventReportOutputSerializer, 404: API_ERROR},
        tags=["binding"],
    )
    def post(self, request):
        data = self.BindEventReportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = bind_event_report(parent=request.user, **data.validated_data)
        body = {"userId": data.validated_data["user_id"], "state": contact.state if contact else None}
        return Response(self.BindEventReportOutputSerializer(body).data)
