"""Mini-program API of the calls app (parent bearer token): device authorizations and call history."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.selectors import contact_access
from portal.fields import StrictCharField

from . import selectors, services
from .models import AuthorizationStatus, CallRecord


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
        records = selectors.authorizations_of(parent=request.user)
        return Response({"list": AuthorizationItemSerializer(records, many=True).data})

    @extend_schema(
        request=AuthorizationItemSerializer, responses={200: AuthorizationItemSerializer}, tags=["device authorization"]
    )
    def post(self, request):
        data = AuthorizationItemSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.authorization_record(
            parent=request.user, item=services.AuthorizationItem(**data.validated_data)
        )
        return Response(AuthorizationItemSerializer(record).data)

    @extend_schema(
        request=AuthorizationListSerializer, responses={200: AuthorizationListSerializer}, tags=["device authorization"]
    )
    def put(self, request):
        data = AuthorizationListSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items = [services.AuthorizationItem(**item) for item in data.validated_data["list"]]
        records = services.authorizations_reconcile(parent=request.user, items=items)
        return Response({"list": AuthorizationItemSerializer(records, many=True).data})


class CallHistoryPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class CallHistoryApi(APIView):
    """``GET /api/v1/students/{user_id}/calls`` → paginated ``{count, next, previous, results}``.

    The admin contact sees all of the student's calls, an ordinary contact only its own; 404 otherwise.
    ``keep_time`` and ``billed_seconds`` are seconds.
    """

    class CallHistoryOutputSerializer(serializers.ModelSerializer):
        roomId = serializers.CharField(source="room_id")  # noqa: N815
        sn = serializers.CharField(source="device.sn")
        device_name = serializers.CharField(source="device.display_name")

        class Meta:
            model = CallRecord
            fields = [
                "roomId",
                "openid",
                "sn",
                "device_name",
                "room_type",
                "outcome",
                "started_at",
                "answered_at",
                "ended_at",
                "keep_time",
                "billed_seconds",
            ]

    @extend_schema(responses={200: CallHistoryOutputSerializer(many=True)}, tags=["calls"])
    def get(self, request, user_id):
        contact = contact_access(parent=request.user, user_id=user_id)
        paginator = CallHistoryPagination()
        page = paginator.paginate_queryset(selectors.call_history(contact=contact), request, view=self)
        return paginator.get_paginated_response(self.CallHistoryOutputSerializer(page, many=True).data)
