"""WeChat-compatible contact API for device vendors' backends (seed 003 §2.2, REFERENCE.md §5)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers

from contacts.selectors.contacts import voip_contact_list
from core.fields import StrictCharField
from core.wechat.errcodes import ErrCode
from core.wechat.views import WeChatCompatibleApi, wechat_response, wechat_responses, wechat_schema
from schools.authentication import AccessTokenAuthentication, IsApiClient


class VoipContactListApi(WeChatCompatibleApi):
    """``POST /wxa/business/getvoipcontactlist?access_token=`` ``{user_id}``.

    → ``{errcode: 0, errmsg: "ok", contact_list: [{open_id, role}]}``; like WeChat, errcode 1 "user
    has no contact list" with HTTP 200 both when the student has no contacts and when ``user_id`` is
    unknown to the client's schools (another school's students are unknown: the two answers are
    identical); 41001 / 40001 / 42001 for a missing / invalid / expired token (HTTP 401); 47001 for
    a malformed body (HTTP 400).
    """

    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [IsApiClient]

    class VoipContactListInputSerializer(serializers.Serializer):
        user_id = StrictCharField(max_length=128)

    @extend_schema(
        request=VoipContactListInputSerializer,
        responses=wechat_responses(
            wechat_schema(
                "VoipContactList",
                {
                    "contact_list": inline_serializer(
                        "VoipContactInfo",
                        {"open_id": serializers.CharField(), "role": serializers.IntegerField()},
                        many=True,
                    ),
                },
            ),
            400,
            401,
        ),
        tags=["wechat-compatible"],
    )
    def post(self, request):
        data = self.VoipContactListInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact_list = voip_contact_list(client=request.user, user_id=data.validated_data["user_id"])
        if not contact_list:  # unknown, inactive, another school's, or without contacts: alike
            return wechat_response(ErrCode.NO_CONTACT_LIST, contact_list=[])
        return wechat_response(contact_list=contact_list)
