"""A student's contacts as its parents see them, and what the admin's plugin did to them reported back
(seed 003 §2.2-§2.4, FAQ 1.5). The order of calls is drawn in README's "Mini-program integration"."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.models import Contact
from contacts.selectors.contacts import contact_list_for_parent, pending_actions
from contacts.services.contacts import admin_transfer, contact_unbind_self, contacts_delete, contacts_set_call_order
from core.fields import StrictCharField
from core.schema import API_ERROR


class ContactInfoSerializer(serializers.Serializer):
    openid = serializers.CharField(source="parent.openid")
    role = serializers.IntegerField()
    relation = serializers.CharField()
    nickname = serializers.CharField(source="parent.nickname")
    bound_at = serializers.DateTimeField()
    state = serializers.ChoiceField(
        choices=Contact.State.choices, help_text="pending, confirmed (served to devices), unconfirmed, removing"
    )


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
        entry = contact_list_for_parent(parent=request.user, user_id=user_id)
        return Response([ContactListSerializer(entry).data])


class ContactDeleteApi(APIView):
    """``POST /api/v1/students/{user_id}/contacts/delete`` ``{openid_list}``: the outcome of
    deleteVoipBindContact (seed 003 §2.3), reported by the admin's mini-program.

    The contacts are no longer served at once; they go when WeChat's list no longer has them.
    Idempotent (openids already removed are ignored) → ``{user_id, openid_list}`` still bound.
    400 when the list holds the admin itself, 403 for an ordinary contact, 404 for a non-contact.
    """

    class ContactDeleteInputSerializer(serializers.Serializer):
        openid_list = serializers.ListField(
            child=StrictCharField(max_length=128), min_length=1, max_length=100, allow_empty=False
        )

    class ContactDeleteOutputSerializer(serializers.Serializer):
        user_id = serializers.CharField()
        openid_list = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        request=ContactDeleteInputSerializer,
        responses={200: ContactDeleteOutputSerializer, 403: API_ERROR},
        tags=["contacts"],
    )
    def post(self, request, user_id):
        data = self.ContactDeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        remaining = contacts_delete(parent=request.user, user_id=user_id, **data.validated_data)
        return Response(self.ContactDeleteOutputSerializer({"user_id": user_id, "openid_list": remaining}).data)


class AdminTransferApi(APIView):
    """``POST /api/v1/students/{user_id}/admin/transfer`` ``{new_admin_openid}``: the outcome of
    transerAdmin (seed 003 §2.4), reported by the admin's mini-program.

    → ``{user_id, admin_openid, done}``: ``done`` once the roles changed, which happens when WeChat's
    list shows the new admin (read soon after). Idempotent. 403 for an ordinary contact; 404 when
    the caller or the new admin is not a contact; 400 when the new admin is the caller.
    """

    class AdminTransferInputSerializer(serializers.Serializer):
        new_admin_openid = StrictCharField(max_length=128)

    class AdminTransferOutputSerializer(serializers.Serializer):
        user_id = serializers.CharField()
        admin_openid = serializers.CharField()
        done = serializers.BooleanField()

    @extend_schema(
        request=AdminTransferInputSerializer,
        responses={200: AdminTransferOutputSerializer, 403: API_ERROR},
        tags=["contacts"],
    )
    def post(self, request, user_id):
        data = self.AdminTransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = admin_transfer(parent=request.user, user_id=user_id, **data.validated_data)
        body = {"user_id": user_id, "admin_openid": new.parent.openid, "done": new.is_admin}
        return Response(self.AdminTransferOutputSerializer(body).data)


class ContactUnbindSelfApi(APIView):
    """``DELETE /api/v1/students/{user_id}/contacts/me``: the caller leaves the student.

    It is no longer served at once; the admin contact deletes it at WeChat (``/me/pending-actions``).
    204; 409 ``admin_must_transfer`` for an admin with other contacts; 404 for a non-contact.
    """

    @extend_schema(request=None, responses={204: None, 409: API_ERROR}, tags=["contacts"])
    def delete(self, request, user_id):
        contact_unbind_self(parent=request.user, user_id=user_id)
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

    @extend_schema(
        request=CallOrderInputSerializer, responses={200: CallOrderOutputSerializer, 403: API_ERROR}, tags=["contacts"]
    )
    def put(self, request, user_id):
        data = self.CallOrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = contacts_set_call_order(parent=request.user, user_id=user_id, **data.validated_data)
        return Response(self.CallOrderOutputSerializer({"user_id": user_id, "openid_list": order}).data)


class PendingActionsApi(APIView):
    """``GET /api/v1/me/pending-actions`` → ``[{user_id, delete_openid_list, new_admin_openid}]``.

    What the caller, as admin contact, has to carry out with the plugin because only it may at
    WeChat (seed 003 §2.3, §2.4): contacts removed by staff or that left (``deleteVoipBindContact``,
    then report it to ``contacts/delete``) and an admin transfer asked by staff (``transerAdmin``,
    then report it to ``admin/transfer``). Empty when nothing waits.
    """

    class PendingActionsOutputSerializer(serializers.Serializer):
        user_id = serializers.CharField()
        delete_openid_list = serializers.ListField(child=serializers.CharField())
        new_admin_openid = serializers.CharField(allow_null=True)

    @extend_schema(responses={200: PendingActionsOutputSerializer(many=True)}, tags=["me"])
    def get(self, request):
        return Response(self.PendingActionsOutputSerializer(pending_actions(parent=request.user), many=True).data)
