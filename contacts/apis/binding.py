"""Binding a parent to a student: admin binding and share links (seed 003 §2.1, §2.5)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.mini_program import share_link_path
from contacts.models import BindEvent, Contact
from contacts.selectors.share_links import share_link_get
from contacts.services.bind_events import BindOutcome
from contacts.services.binding import admin_bind, share_link_bind
from contacts.services.share_links import share_link_create
from core.errors import NotFound
from core.fields import StrictCharField

RELATION_MAX = Contact._meta.get_field("relation").max_length
CLAIM_CODE_INPUT_MAX = 32  # 10 symbols, with room for the dash and spaces a parent types

# HTTP status of each bindContact outcome (seed 003 §2.5): 200 for success and binded.
BIND_STATUS = {
    BindEvent.Type.SUCCESS: status.HTTP_200_OK,
    BindEvent.Type.BINDED: status.HTTP_200_OK,
    BindEvent.Type.AUTH: status.HTTP_403_FORBIDDEN,
    BindEvent.Type.INVALID: status.HTTP_404_NOT_FOUND,
    BindEvent.Type.OVERLOAD: status.HTTP_409_CONFLICT,
    BindEvent.Type.EXPIRE: status.HTTP_410_GONE,
}


class BindEventSerializer(serializers.Serializer):
    """The bindContact event data of ``onVoipEvent`` (seed 003 §2.5)."""

    type = serializers.ChoiceField(choices=BindEvent.Type.choices)
    # WeChat's names at the boundary, snake_case inside.
    errMsg = serializers.CharField(source="err_msg")  # noqa: N815
    userId = serializers.CharField(source="user_id")  # noqa: N815


def bind_response(outcome: BindOutcome) -> Response:
    return Response(BindEventSerializer(outcome).data, status=BIND_STATUS[outcome.type])


BIND_RESPONSES = {
    200: OpenApiResponse(BindEventSerializer, description="success or binded"),
    403: OpenApiResponse(BindEventSerializer, description="auth: scope.voip not granted"),
    404: OpenApiResponse(BindEventSerializer, description="invalid link, or unknown/inactive student"),
    409: OpenApiResponse(BindEventSerializer, description="overload: contact limit reached (or another admin exists)"),
    410: OpenApiResponse(BindEventSerializer, description="expire: the share link has expired"),
}


class RelationInputSerializer(serializers.Serializer):
    relation = StrictCharField(max_length=RELATION_MAX, required=False, allow_blank=True, default="")


class AdminBindInputSerializer(RelationInputSerializer):
    claim_code = StrictCharField(max_length=CLAIM_CODE_INPUT_MAX, required=False, allow_blank=True, default="")


class AdminBindApi(APIView):
    """``POST /api/v1/students/{user_id}/admin`` ``{relation?, claim_code?}``: bindVoipAdminContact (seed 003 §2.1).

    Answers the bindContact event: ``success``/``binded`` 200, ``auth`` 403, ``overload`` 409;
    409 ``admin_exists`` when another parent is admin; 404 for an unknown or inactive student.
    When the school requires a claim code (the one on the student's letter, any case, dash
    optional): 400 naming ``claim_code`` when it is missing, or wrong, expired, used or revoked
    (one answer for the four); 429 after ``CLAIM_CODE_MAX_ATTEMPTS`` wrong codes for the student
    within ``CLAIM_CODE_WINDOW``, until that window ends.
    """

    @extend_schema(
        request=AdminBindInputSerializer,
        responses={
            **BIND_RESPONSES,
            400: OpenApiResponse(description="claim_code missing or not valid"),
            429: OpenApiResponse(description="too many wrong claim codes for this student"),
        },
        tags=["binding"],
    )
    def post(self, request, user_id):
        data = AdminBindInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return bind_response(admin_bind(parent=request.user, user_id=user_id, **data.validated_data))


class ShareLinkCreateApi(APIView):
    """``POST /api/v1/students/{user_id}/share-links``: getBindContactPath (seed 003 §2.1), admin only.

    → 201 ``{path, token, expires_at}``; ``path`` is the mini-program page carrying the token.
    403 for an ordinary contact, 404 when the caller is not a contact of the student.
    """

    class ShareLinkCreateInputSerializer(serializers.Serializer):
        user_name = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
        user_avatar = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")

    class ShareLinkCreateOutputSerializer(serializers.Serializer):
        path = serializers.CharField()
        token = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        request=ShareLinkCreateInputSerializer, responses={201: ShareLinkCreateOutputSerializer}, tags=["binding"]
    )
    def post(self, request, user_id):
        data = self.ShareLinkCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link, token = share_link_create(parent=request.user, user_id=user_id, **data.validated_data)
        body = {"path": share_link_path(token), "token": token, "expires_at": link.expires_at}
        return Response(self.ShareLinkCreateOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class ShareLinkDetailApi(APIView):
    """``GET /api/v1/share-links/{token}``: what the bind page shows before binding.

    → ``{user_name, user_avatar, school, expires_at, state}``; 404 for an unknown token.
    """

    class ShareLinkDetailOutputSerializer(serializers.Serializer):
        user_name = serializers.CharField()
        user_avatar = serializers.CharField()
        school = serializers.CharField(source="student.school.name")
        expires_at = serializers.DateTimeField()
        state = serializers.CharField()

    @extend_schema(responses={200: ShareLinkDetailOutputSerializer}, tags=["binding"])
    def get(self, request, token):
        link = share_link_get(token=token)
        if link is None:
            raise NotFound(_("No such share link."), field="token")
        return Response(self.ShareLinkDetailOutputSerializer(link).data)


class ShareLinkBindApi(APIView):
    """``POST /api/v1/share-links/{token}/bind`` ``{relation?}`` → the bindContact event ``{type, errMsg, userId}``.

    ``success``/``binded`` 200, ``auth`` 403, ``invalid`` 404, ``overload`` 409, ``expire`` 410 (seed 003 §2.5).
    """

    @extend_schema(request=RelationInputSerializer, responses=BIND_RESPONSES, tags=["binding"])
    def post(self, request, token):
        data = RelationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return bind_response(share_link_bind(parent=request.user, token=token, **data.validated_data))
