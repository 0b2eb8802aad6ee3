"""WeChat-compatible contact API for device vendors' backends (seed 003 §2.2, REFERENCE.md §5)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.exceptions import WeChatApiError
from portal.fields import StrictCharField
from schools.apis import WECHAT_ERROR, WeChatCompatibleApi
from schools.authentication import AccessTokenAuthentication, IsApiClient

from .selectors import voip_contact_list

ERRCODE_NO_CONTACT_LIST = 1  # seed 003 §2.2: "User has no contact list"


class VoipContactListApi(WeChatCompatibleApi):
    """``POST /wxa/business/getvoipcontactlist?access_token=`` ``{user_id}``.

    → ``{errcode: 0, errmsg: "ok", contact_list: [{open_id, role}]}``; errcode 1 (HTTP 200) when
    the student has no contacts, errcode 1 (HTTP 404) when ``user_id`` is unknown to the client's
    school (another school's students are unknown); 41001 / 40001 / 42001 for a missing /
    invalid / expired token; 47001 for a malformed body.
    """

    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [IsApiClient]

    class VoipContactListInputSerializer(serializers.Serializer):
        user_id = StrictCharField(max_length=128)

    @extend_schema(
        request=VoipContactListInputSerializer,
        responses={
            200: inline_serializer(
                "VoipContactList",
                {
                    "errcode": serializers.IntegerField(),
                    "errmsg": serializers.CharField(),
                    "contact_list": inline_serializer(
                        "VoipContactInfo",
                        {"open_id": serializers.CharField(), "role": serializers.IntegerField()},
                        many=True,
                    ),
                },
            ),
            400: WECHAT_ERROR,
            401: WECHAT_ERROR,
            404: WECHAT_ERROR,
        },
        tags=["wechat-compatible"],
    )
    def post(self, request):
        data = self.VoipContactListInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact_list = voip_contact_list(school_id=request.user.school_id, user_id=data.validated_data["user_id"])
        if contact_list is None:
            raise WeChatApiError(ERRCODE_NO_CONTACT_LIST, "user_id: no such student", status.HTTP_404_NOT_FOUND)
        if not contact_list:
            return Response(
                {"errcode": ERRCODE_NO_CONTACT_LIST, "errmsg": "user has no contact list", "contact_list": []}
            )
        return Response({"errcode": 0, "errmsg": "ok", "contact_list": contact_list})
