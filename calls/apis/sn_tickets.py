"""``GET /api/v1/devices/{sn}/sn-ticket``: what the mini-program needs for ``wx.requestDeviceVoIP`` (seed 000 §1).

Authenticated by the parent's bearer token (the default); errors follow ``core.exceptions``.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from calls.services.sn_tickets import sn_ticket_issue
from core.fields import StrictCharField
from schools.models import Device

SN_TICKET_ERROR = inline_serializer(
    "SnTicketError",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "field": serializers.CharField(required=False),
    },
)


class SnTicketApi(APIView):
    """``GET /api/v1/devices/{sn}/sn-ticket?model_id=`` → ``{sn_ticket, sn, model_id, device_name, display_name}``.

    ``sn_ticket`` comes from WeChat getsnticket (REFERENCE.md §5) and is valid 5 minutes;
    ``device_name`` is the ``deviceName`` to pass to ``wx.requestDeviceVoIP`` (the bare name, ≤ 13
    characters); ``display_name`` is what the dialog will show (WeChat appends the device type). 400 when
    ``model_id`` is missing or WeChat refuses ``sn`` (9800001/9800002) or ``model_id`` (9800003);
    404 (field ``sn``) for a device that is unknown, inactive or not of the parent's schools;
    502 when the mini-program has no hardware-device access (48001, FAQ 3.2); 503 when WeChat
    is busy or unreachable.
    """

    class SnTicketInputSerializer(serializers.Serializer):
        model_id = StrictCharField(max_length=Device._meta.get_field("model_id").max_length)

    class SnTicketOutputSerializer(serializers.Serializer):
        sn_ticket = serializers.CharField()
        sn = serializers.CharField()
        model_id = serializers.CharField()
        device_name = serializers.CharField(help_text="deviceName for wx.requestDeviceVoIP (≤ 13 characters)")
        display_name = serializers.CharField(help_text="what the dialog shows: deviceName + device type")

    @extend_schema(
        parameters=[SnTicketInputSerializer],
        responses={
            200: SnTicketOutputSerializer,
            400: OpenApiResponse(SN_TICKET_ERROR, description="model_id missing, or WeChat refused sn / model_id"),
            404: OpenApiResponse(SN_TICKET_ERROR, description="no such active device at the parent's schools"),
            502: OpenApiResponse(SN_TICKET_ERROR, description="WeChat refused: e.g. 48001, no hardware-device access"),
            503: OpenApiResponse(SN_TICKET_ERROR, description="WeChat busy or unreachable; retry later"),
        },
        tags=["devices"],
    )
    def get(self, request, sn):
        data = self.SnTicketInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        ticket = sn_ticket_issue(parent=request.user, sn=sn, **data.validated_data)
        return Response(self.SnTicketOutputSerializer(ticket).data)
