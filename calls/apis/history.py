"""A student's calls as its parents see them (admin: all; ordinary contact: its own)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import APIView

from calls.models import CallRecord
from calls.selectors.history import call_history
from contacts.selectors.contacts import contact_access


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
        page = paginator.paginate_queryset(call_history(contact=contact), request, view=self)
        return paginator.get_paginated_response(self.CallHistoryOutputSerializer(page, many=True).data)
