"""Usage per day (calls, minutes, traffic) by school, device or class (``calls.selectors.reports``)."""

from django.contrib import admin
from django.contrib.admin.options import ShowFacets
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from calls.admin.filters import StudentClassFilter, UsageGroupingParameter, UsagePeriodFilter
from calls.models import CallUsage
from calls.selectors.reports import (
    DEFAULT_GROUPING,
    GROUPINGS,
    VIDEO_MB_PER_MINUTE,
    VOICE_MB_PER_MINUTE,
    usage_by_day,
    usage_series,
    usage_total,
)
from core.admin import ReadOnlyAdminMixin
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedRelatedFilter


@admin.register(CallUsage)
class CallUsageAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Calls, answered calls, connected and billed minutes and estimated traffic per day (``calls.selectors.reports``).

    The changelist's filters (period, date hierarchy, ``?started_at__gte=``/``__lt=``, device,
    class, roomType) narrow the calls; ``?by=school|device|class`` groups each day. One
    aggregate query whatever the number of calls.
    """

    change_list_template = "admin/calls/callusage/change_list.html"
    list_filter = [
        UsageGroupingParameter,
        UsagePeriodFilter,
        ("device", SchoolScopedRelatedFilter),
        StudentClassFilter,
        "room_type",
    ]
    date_hierarchy = "started_at"
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    actions = None

    def changelist_view(self, request, extra_context=None):
        by = request.GET.get("by")
        by = by if by in GROUPINGS else DEFAULT_GROUPING
        response = super().changelist_view(request, {"title": _("Call usage"), **(extra_context or {})})
        if not isinstance(response, TemplateResponse) or "cl" not in (response.context_data or {}):
            return response  # a redirect (bad lookup parameters) or a permission error
        cl = response.context_data["cl"]
        days = usage_by_day(cl.queryset, by)
        titles = {"school": _("school"), "device": _("device"), "class": _("class")}
        response.context_data.update(
            usage_by=by,
            usage_by_title=titles[by],
            usage_groupings=[(key, titles[key], cl.get_query_string({"by": key})) for key in GROUPINGS],
            usage_days=days,
            usage_total=usage_total([day["total"] for day in days]),
            usage_series=usage_series(days),
            voice_mb_per_minute=VOICE_MB_PER_MINUTE,
            video_mb_per_minute=VIDEO_MB_PER_MINUTE,
        )
        return response
