"""Login, logout, scope.voip and the parent's students (REFERENCE.md §2, §5)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from contacts.selectors.contacts import parent_students
from contacts.services.parents import parent_login, parent_set_voip_scope, parent_token_revoke
from core.fields import StrictBooleanField, StrictCharField
from core.schema import API_ERROR


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

    @extend_schema(
        request=LoginInputSerializer,
        responses={200: LoginOutputSerializer, 502: API_ERROR, 503: API_ERROR},
        tags=["auth"],
    )
    def post(self, request):
        data = self.LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = parent_login(code=data.validated_data["code"])
        return Response(self.LoginOutputSerializer(result).data)


class LogoutApi(APIView):
    """``POST /api/v1/auth/logout``: revoke the bearer token of this request."""

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        parent_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VoipScopeApi(APIView):
    """The caller's scope.voip (REFERENCE.md §2).

    - ``GET /api/v1/me/voip-scope`` → ``{openid, granted, updated_at, ask_again}``: ``ask_again`` is
      true when a device's call failed with errCode 8 since the last report: the mini-program should
      ask ``wx.authorize({scope: 'scope.voip'})`` again (FAQ 3.6).
    - ``PUT`` ``{granted}``: the result of ``wx.authorize({scope: 'scope.voip'})``.
    """

    class VoipScopeInputSerializer(serializers.Serializer):
        granted = StrictBooleanField()

    class VoipScopeOutputSerializer(serializers.Serializer):
        openid = serializers.CharField()
        granted = serializers.BooleanField(source="voip_scope_granted")
        updated_at = serializers.DateTimeField(source="voip_scope_updated_at", allow_null=True)  # never reported
        ask_again = serializers.SerializerMethodField()

        def get_ask_again(self, parent) -> bool:
            return not parent.voip_scope_granted and parent.voip_scope_lost_at is not None

    @extend_schema(responses={200: VoipScopeOutputSerializer}, tags=["me"])
    def get(self, request):
        return Response(self.VoipScopeOutputSerializer(request.user).data)

    @extend_schema(request=VoipScopeInputSerializer, responses={200: VoipScopeOutputSerializer}, tags=["me"])
    def put(self, request):
        data = self.VoipScopeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        parent = parent_set_voip_scope(parent=request.user, granted=data.validated_data["granted"])
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
        return Response(self.MyStudentsOutputSerializer(parent_students(parent=request.user), many=True).data)
