"""Django admin of call policy, calling windows, device authorizations, call records and call usage.

Every admin is a ``SchoolScopedAdmin`` (``schools.admin``): staff see their own school only.
Authorization rows reach their school through their device OR their group, so their admins
scope with a Q over both paths. Call records and authorization rows are what devices and the
mini-program reported (and ``calls.services`` keeps the authorization history): read-only here.
"""

import json
from datetime import datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin.options import ShowFacets
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from schools.admin import ReadOnlyAdminMixin, SchoolScopedAdmin, SchoolScopedRelatedFilter, staff_school_id
from schools.models import Student

from .models import (
    CallingWindow,
    CallPolicy,
    CallRecord,
    CallUsage,
    DeviceAuthorization,
    DeviceAuthorizationHistory,
    StudentCallPolicy,
)
from .reports import (
    DEFAULT_GROUPING,
    GROUPINGS,
    LOCAL_TZ,
    VIDEO_MB_PER_MINUTE,
    VOICE_MB_PER_MINUTE,
    usage_by_day,
    usage_total,
)


def _local_iso(value):
    """An ISO timestamp (stored in UTC) as local time (Asia/Shanghai, ``TIME_ZONE``); anything else unchanged."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    return timezone.localtime(moment).isoformat() if timezone.is_aware(moment) else value


# ---------------------------------------------------------------- list filters


class StudentClassFilter(admin.SimpleListFilter):
    """The student's class; the choices are the classes of the staff user's school."""

    title = _("class")
    parameter_name = "class"

    def lookups(self, request, model_admin):
        students = Student.objects.exclude(class_name="")
        school_id = staff_school_id(request)
        if school_id is not None:
            students = students.filter(school_id=school_id)
        names = students.order_by("class_name").values_list("class_name", flat=True).distinct()
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        return queryset.filter(student__class_name=self.value()) if self.value() else queryset


class UsagePeriodFilter(admin.SimpleListFilter):
    """The last N local days (default 7), unless a date filter (``started_at…``) already decides."""

    title = _("period")
    parameter_name = "days"
    default = "7"

    def __init__(self, request, params, model, model_admin):
        # Date hierarchy links and ?started_at__gte= / __lt= take over from the default period.
        self.dated = any(key.startswith("started_at") for key in request.GET)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [
            ("1", _("today")),
            ("7", _("last 7 days")),
            ("30", _("last 30 days")),
            ("90", _("last 90 days")),
            ("all", _("any time")),
        ]

    def value(self):
        value = super().value()
        if value == "all" or (value and value.isdigit() and 0 < int(value) <= 3660):
            return value
        return "all" if self.dated else self.default

    def queryset(self, request, queryset):
        value = self.value()
        if value == "all":
            return queryset
        first_day = timezone.localdate(timezone.now(), LOCAL_TZ) - timedelta(days=int(value) - 1)
        return queryset.filter(started_at__gte=datetime.combine(first_day, time.min, tzinfo=LOCAL_TZ))

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class UsageGroupingParameter(admin.SimpleListFilter):
    """Consumes ``?by=`` so the changelist does not take it for a field lookup; the page shows the switch."""

    title = _("group by")
    parameter_name = "by"

    def lookups(self, request, model_admin):
        return [(key, key) for key in GROUPINGS]

    def has_output(self):
        return False

    def queryset(self, request, queryset):
        return queryset


# ---------------------------------------------------------------- policy


@admin.register(CallPolicy)
class CallPolicyAdmin(SchoolScopedAdmin):
    list_display = [
        "school",
        "time_limit",
        "daily_minutes",
        "business_type",
        "camera_status",
        "ring_timeout",
        "repeat_interval",
    ]
    list_select_related = ["school"]
    search_fields = ["school__name", "school__code"]


@admin.register(StudentCallPolicy)
class StudentCallPolicyAdmin(SchoolScopedAdmin):
    school_path = "student__school"
    list_display = [
        "student",
        "class_name",
        "time_limit",
        "daily_minutes",
        "business_type",
        "camera_status",
        "ring_timeout",
    ]
    list_filter = [StudentClassFilter]
    search_fields = ["student__user_id", "student__name"]
    list_select_related = ["student"]
    autocomplete_fields = ["student"]

    @admin.display(description=_("class"), ordering="student__class_name")
    def class_name(self, obj):
        return obj.student.class_name


@admin.register(CallingWindow)
class CallingWindowAdmin(SchoolScopedAdmin):
    list_display = ["__str__", "school", "weekday", "start_time", "end_time"]
    list_editable = ["start_time", "end_time"]
    list_filter = [("school", SchoolScopedRelatedFilter), "weekday"]
    list_select_related = ["school"]


# ---------------------------------------------------------------- authorizations


class DeviceOrGroupScopedAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Rows with EITHER a device OR a group: visible to staff when whichever is set is of their school."""

    school_paths = ("device__school", "group__school")
    list_select_related = ["parent", "device", "group"]
    search_fields = ["parent__openid", "device__sn", "group__group_id"]
    list_filter = ["status", "stale", "source"]
    show_full_result_count = False

    def get_queryset(self, request):
        # Not SchoolScopedAdmin.get_queryset: its single ``school_path`` would drop the group rows.
        qs = admin.ModelAdmin.get_queryset(self, request)
        school_id = staff_school_id(request)
        if school_id is None:
            return qs
        scope = Q()
        for path in self.school_paths:
            scope |= Q(**{f"{path}_id": school_id})
        return qs.filter(scope)

    @admin.display(description=_("openid"), ordering="parent__openid")
    def openid(self, obj):
        return obj.parent.openid


@admin.register(DeviceAuthorization)
class DeviceAuthorizationAdmin(DeviceOrGroupScopedAdmin):
    list_display = ["openid", "parent", "device", "group", "status", "stale", "source", "updated_at"]


@admin.register(DeviceAuthorizationHistory)
class DeviceAuthorizationHistoryAdmin(DeviceOrGroupScopedAdmin):
    list_display = ["created_at", "openid", "parent", "device", "group", "status", "stale", "source"]
    date_hierarchy = "created_at"


# ---------------------------------------------------------------- call records


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    list_display = [
        "started_at", "student", "class_name", "device", "openid", "room_type", "outcome", "keep_time", "billed_seconds", "end_reason",
    ]  # fmt: skip
    list_filter = [
        ("started_at", admin.DateFieldListFilter),
        ("device", SchoolScopedRelatedFilter),
        StudentClassFilter,
        "outcome",
        "room_type",
    ]
    date_hierarchy = "started_at"
    search_fields = ["room_id", "student__user_id", "student__name", "openid"]
    list_select_related = ["student", "device"]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["room_id", "school", "device", "student", "parent", "openid"]}),
        (
            _("Call"),
            {
                "fields": [
                    "room_type",
                    "business_type",
                    "outcome",
                    "started_at",
                    "answered_at",
                    "ended_at",
                    "keep_time",
                    "billed_seconds",
                    "end_reason",
                    "err_code",
                    "updated_at",
                ]  # fmt: skip
            },
        ),
        (_("Events"), {"fields": ["events_display"]}),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]

    @admin.display(description=_("class"), ordering="student__class_name")
    def class_name(self, obj):
        return obj.student.class_name

    @admin.display(description=_("events"))
    def events_display(self, obj):
        """The onVoipEvent events as received, in order of arrival; ``received_at`` in local time."""
        events = obj.events if isinstance(obj.events, dict) else {}
        ordered = {
            name: {**event, "received_at": _local_iso(event["received_at"])}
            if isinstance(event, dict) and "received_at" in event
            else event
            for name, event in sorted(
                events.items(),
                key=lambda item: str(item[1].get("received_at", "")) if isinstance(item[1], dict) else "",
            )
        }
        return format_html(
            '<pre style="white-space: pre-wrap">{}</pre>', json.dumps(ordered, indent=2, ensure_ascii=False)
        )


@admin.register(CallUsage)
class CallUsageAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Calls, answered calls, connected and billed minutes and estimated traffic per day (``calls.reports``).

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
            voice_mb_per_minute=VOICE_MB_PER_MINUTE,
            video_mb_per_minute=VIDEO_MB_PER_MINUTE,
        )
        return response
