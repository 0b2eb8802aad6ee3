"""Device authorization records of the parent (seed 000): what wx.requestDeviceVoIP and
wx.getDeviceVoIPList returned in the mini-program."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from calls.models import AuthorizationStatus
from calls.selectors.history import authorizations_of
from calls.services.authorizations import AuthorizationItem, authorization_record, authorizations_reconcile
from core.fields import StrictCharField
from core.schema import API_ERROR


class AuthorizationItemSerializer(serializers.Serializer):
    """``{sn, model_id, status}`` or ``{group_id, status}`` (wx.getDeviceVoIPList, seed 000 §4.1)."""

    sn = StrictCharField(max_length=128, required=False)
    model_id = StrictCharField(max_length=64, required=False)
    group_id = StrictCharField(max_length=64, required=False)
    status = serializers.ChoiceField(choices=AuthorizationStatus.choices)

    def validate(self, attrs):
        if attrs.get("group_id"):
            if attrs.get("sn") or attrs.get("model_id"):
                raise serializers.ValidationError({"group_id": _("Give either group_id or sn and model_id, not both.")})
        elif not attrs.get("sn") or not attrs.get("model_id"):
            raise serializers.ValidationError({"sn": _("Give sn and model_id, or group_id.")})
        return attrs

    def to_representation(self, record):
        if record.group_id:
            return {"group_id": record.group.group_id, "status": record.status}
        return {"sn": record.device.sn, "model_id": record.device.model_id, "status": record.status}


class AuthorizationListSerializer(serializers.Serializer):
    list = AuthorizationItemSerializer(many=True, max_length=500)


class DeviceAuthorizationApi(APIView):
    """Device authorization records of the caller (seed 000).

    - ``GET`` → ``{list: [{sn, model_id, status}, {group_id, status}]}``, the wx.getDeviceVoIPList shape.
    - ``POST`` ``{sn, model_id, status}`` or ``{group_id, status}``: what wx.requestDeviceVoIP returned.
    - ``PUT`` ``{list: [...]}``: replace all records with wx.getDeviceVoIPList's list (reconciliation).

    Devices and groups must belong to a school the caller is bound to: 404 naming the field otherwise.
    """

    @extend_schema(responses={200: AuthorizationListSerializer}, tags=["device authorization"])
    def get(self, request):
        records = authorizations_of(parent=request.user)
        return Response({"list": AuthorizationItemSerializer(records, many=True).data})

    @extend_schema(
        request=AuthorizationItemSerializer,
        responses={200: AuthorizationItemSerializer, 404: API_ERROR},
        tags=["device authorization"],
    )
    def post(self, request):
        data = AuthorizationItemSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = authorization_record(parent=request.user, item=AuthorizationItem(**data.validated_data))
        return Response(AuthorizationItemSerializer(record).data)

    @extend_schema(
        request=AuthorizationListSerializer,
        responses={200: AuthorizationListSerializer, 404: API_ERROR},
        tags=["device authorization"],
    )
    def put(self, request):
        data = AuthorizationListSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items = [AuthorizationItem(**item) for item in data.validated_data["list"]]
        records = authorizations_reconcile(parent=request.user, items=items)
        return Response({"list": AuthorizationItemSerializer(records, many=True).data})
