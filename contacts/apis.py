"""REST API of the parents' mini-program (``/api/v1/``): thin views, one service call each.

Every view authenticates the parent by bearer token (``ParentTokenAuthentication``) unless
stated; errors follow ``portal.exceptions`` (``{detail, code, field?}``).
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from portal.errors import NotFound
from portal.fields import StrictCharField

from . import selectors, services
from .models import BindEvent

RELATION_MAX = 16
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
    errMsg = serializers.CharField()  # noqa: N815
    userId = serializers.CharField(source="user_id")  # noqa: N815


def bind_response(outcome: services.BindOutcome) -> Response:
    return Response(BindEventSerializer(outcome).data, status=BIND_STATUS[outcome.type])


BIND_RESPONSES = {
    200: OpenApiResponse(BindEventSerializer, description="success or binded"),
    403: OpenApiResponse(BindEventSerializer, description="auth: scope.voip not granted"),
    404: OpenApiResponse(BindEventSerializer, description="invalid link, or unknown/inactive student"),
    409: OpenApiResponse(BindEventSerializer, description="overload: contact limit reached (or another admin exists)"),
    410: OpenApiResponse(BindEventSerializer, description="expire: the share link has expired"),
}


class LoginApi(APIView):
    """``POST /api/v1/auth/login`` ``{code}`` → ``{token, openid, expires_at}``.

    Exchanges the ``wx.login`` code with WeChat jscode2session (REFERENCE.md §5). 400 (field
    ``code``) for 40029/40163, 429 for 45011, 503 when WeChat is busy (-1) or unreachable.
    """

    authentication_classes = []
    permission_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class LoginInputSerializer(serializers.Serializer):
        code = StrictCharField(max_length=128)

    class LoginOutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        openid = serializers.CharField(source="parent.openid")
        expires_at = serializers.DateTimeField()

    @extend_schema(request=LoginInputSerializer, responses={200: LoginOutputSerializer}, tags=["auth"])
    def post(self, request):
        data = self.LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.parent_login(code=data.validated_data["code"])
        return Response(self.LoginOutputSerializer(result).data)


class LogoutApi(APIView):
    """``POST /api/v1/auth/logout``: revoke the bearer token of this request."""

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        services.parent_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VoipScopeApi(APIView):
    """``PUT /api/v1/me/voip-scope`` ``{granted}``: the result of ``wx.authorize({scope: 'scope.voip'})``."""

    class VoipScopeInputSerializer(serializers.Serializer):
        granted = serializers.BooleanField()

    class VoipScopeOutputSerializer(serializers.Serializer):
        openid = serializers.CharField()
        granted = serializers.BooleanField(source="voip_scope_granted")
        updated_at = serializers.DateTimeField(source="voip_scope_updated_at")

    @extend_schema(request=VoipScopeInputSerializer, responses={200: VoipScopeOutputSerializer}, tags=["me"])
    def put(self, request):
        data = self.VoipScopeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        parent = services.parent_set_voip_scope(parent=request.user, granted=data.validated_data["granted"])
        return Response(self.VoipScopeOutputSerializer(parent).data)


class MyStudentsApi(APIView):
    """``GET /api/v1/me/students``: the students the caller is bound to, with its role."""

    class MyStudentsOutputSerializer(serializers.Serializer):
        user_id = serializers.CharField(source="student.user_id")
        name = serializers.CharField(source="student.name")
        grade = serializers.CharField(source="student.grade")
        class_name = serializers.CharField(source="student.class_name")
        avatar_url = serializers.CharField(source="student.avatar_url")
        school = serializers.CharField(source="student.school.name")
        role = serializers.IntegerField()
        is_ad = serializers.SerializerMethodField()
        relation = serializers.CharField()
        bound_at = serializers.DateTimeField()

        def get_is_ad(self, contact) -> int:
            return int(contact.is_admin)

    @extend_schema(responses={200: MyStudentsOutputSerializer(many=True)}, tags=["me"])
    def get(self, request):
        return Response(self.MyStudentsOutputSerializer(selectors.parent_students(parent=request.user), many=True).data)


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
        return bind_response(services.admin_bind(parent=request.user, user_id=user_id, **data.validated_data))


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
        link, token = services.share_link_create(parent=request.user, user_id=user_id, **data.validated_data)
        body = {"path": services.share_link_path(token), "token": token, "expires_at": link.expires_at}
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
        link = services.share_link_get(token=token)
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
        return bind_response(services.share_link_bind(parent=request.user, token=token, **data.validated_data))


class ContactInfoSerializer(serializers.Serializer):
    openid = serializers.CharField(source="parent.openid")
    role = serializers.IntegerField()
    relation = serializers.CharField()
    nickname = serializers.CharField(source="parent.nickname")
    bound_at = serializers.DateTimeField()


class ContactListSerializer(serializers.Serializer):
    """getVoipBindContactList entry (seed 003 §2.2) plus ``contacts`` details of the same openids."""

    user_id = serializers.CharField()
    is_ad = serializers.IntegerField()
    openid_list = serializers.ListField(child=serializers.CharField())
    contacts = ContactInfoSerializer(many=True)


class ContactListApi(APIView):
    """``GET /api/v1/students/{user_id}/contacts`` → ``[{user_id, is_ad, openid_list, contacts}]``.

    The admin sees every bound openid, its own included; an ordinary contact only its own; 404 otherwise.
    """

    @extend_schema(responses={200: ContactListSerializer(many=True)}, tags=["contacts"])
    def get(self, request, user_id):
        entry = selectors.contact_list_for_parent(parent=request.user, user_id=user_id)
        return Response([ContactListSerializer(entry).data])


class ContactDeleteApi(APIView):
    """``POST /api/v1/students/{user_id}/contacts/delete`` ``{openid_list}``: deleteVoipBindContact (seed 003 §2.3).

    Admin only, all or nothing → ``{user_id, openid_list}`` still bound. 400 when the list holds
    the admin itself, 403 for an ordinary contact, 404 for a non-contact or an openid not bound.
    """

    class ContactDeleteInputSerializer(serializers.Serializer):
        openid_list = serializers.ListField(
            child=StrictCharField(max_length=128), min_length=1, max_length=100, allow_empty=False
        )

    class ContactDeleteOutputSerializer(serializers.Serializer):
        user_id = serializers.CharField()
        openid_list = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        request=ContactDeleteInputSerializer, responses={200: ContactDeleteOutputSerializer}, tags=["contacts"]
    )
    def post(self, request, user_id):
        data = self.ContactDeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        remaining = services.contacts_delete(parent=request.user, user_id=user_id, **data.validated_data)
        return Response(self.ContactDeleteOutputSerializer({"user_id": user_id, "openid_list": remaining}).data)


class AdminTransferApi(APIView):
    """``POST /api/v1/students/{user_id}/admin/transfer`` ``{new_admin_openid}``: transerAdmin (seed 003 §2.4).

    → ``{user_id, admin_openid}``. 403 for an ordinary contact; 404 when the caller or the new
    admin is not a contact; 400 when the new admin is the caller.
    """

    class AdminTransferInputSerializer(serializers.Serializer):
        new_admin_openid = StrictCharField(max_length=128)

    class AdminTransferOutputSerializer(serializers.Serializer):
        user_id = serializers.CharField()
        admin_openid = serializers.CharField()

    @extend_schema(
        request=AdminTransferInputSerializer, responses={200: AdminTransferOutputSerializer}, tags=["contacts"]
    )
    def post(self, request, user_id):
        data = self.AdminTransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.admin_transfer(parent=request.user, user_id=user_id, **data.validated_data)
        return Response(
            self.AdminTransferOutputSerializer({"user_id": user_id, "admin_openid": new.parent.openid}).data
        )


class ContactUnbindSelfApi(APIView):
    """``DELETE /api/v1/students/{user_id}/contacts/me``: the caller unbinds itself (``cancel``).

    204; 409 ``admin_must_transfer`` for an admin with other contacts; 404 for a non-contact.
    """

    @extend_schema(request=None, responses={204: None}, tags=["contacts"])
    def delete(self, request, user_id):
        services.contact_unbind_self(parent=request.user, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CallOrderApi(APIView):
    """``PUT /api/v1/students/{user_id}/call-order`` ``{openid_list}``: the admin's round-robin order (FAQ 1.5).

    → ``{user_id, openid_list}`` in calling order. 403 for an ordinary contact, 404 for a non-contact
    or an openid not bound, 400 for duplicates.
    """

    class CallOrderInputSerializer(serializers.Serializer):
        openid_list = serializers.ListField(child=StrictCharField(max_length=128), max_length=100)

    class CallOrderOutputSerializer(serializers.Serializer):
        user_id = serializers.CharField()
        openid_list = serializers.ListField(child=serializers.CharField())

    @extend_schema(request=CallOrderInputSerializer, responses={200: CallOrderOutputSerializer}, tags=["contacts"])
    def put(self, request, user_id):
        data = self.CallOrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.contacts_set_call_order(parent=request.user, user_id=user_id, **data.validated_data)
        return Response(self.CallOrderOutputSerializer({"user_id": user_id, "openid_list": order}).data)
