"""A student's calls as its parents see them (admin: all; ordinary contact: its own)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import APIView

from calls.models import CallRecord
from calls.selectors.history import call_history
from contacts.selectors.contacts import contact_access


class CallHistoryPagination(PageNumberPagination):
    """``?page=`` (from 1; 404 past the last page) and ``?page_size=`` (1 … 100, default 20; 400 otherwise)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    last_page_strings = ()  # pages are numbers only

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        field = serializers.IntegerField(min_value=1, max_value=self.max_page_size)
        try:
            return field.run_validation(raw)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({self.page_size_query_param: exc.detail}) from exc

    @classmethod
    def schema_parameters(cls) -> list[OpenApiParameter]:
        return [
            OpenApiParameter(
                "page", {"type": "integer", "minimum": 1}, description="page number, from 1; 404 past the last page"
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": cls.max_page_size},
                description=f"default {cls.page_size}",
            ),
        ]


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

    @extend_schema(
        parameters=CallHistoryPagination.schema_parameters(),
        responses={
            200: inline_serializer(
                "PaginatedCallHistory",
                {
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": CallHistoryOutputSerializer(many=True),
                },
            )
        },
        tags=["calls"],
    )
    def get(self, request, user_id):
        contact = contact_access(parent=request.user, user_id=user_id)
        paginator = CallHistoryPagination()
        page = paginator.paginate_queryset(call_history(contact=contact), request, view=self)
        return paginator.get_paginated_response(self.CallHistoryOutputSerializer(page, many=True).data)
