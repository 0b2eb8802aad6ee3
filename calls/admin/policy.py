"""A school's call policy, students' exceptions and the weekly calling windows."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from calls.admin.filters import StudentClassFilter
from calls.models import CallingWindow, CallPolicy, StudentCallPolicy
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedRelatedFilter, StudentClassOrderMixin


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
class StudentCallPolicyAdmin(StudentClassOrderMixin, SchoolScopedAdmin):
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

    @admin.display(description=_("class"), ordering="student_class_rank")
    def class_name(self, obj):
        return obj.student.class_name


@admin.register(CallingWindow)
class CallingWindowAdmin(SchoolScopedAdmin):
    list_display = ["__str__", "school", "weekday", "start_time", "end_time"]
    list_editable = ["start_time", "end_time"]
    list_filter = [("school", SchoolScopedRelatedFilter), "weekday"]
    list_select_related = ["school"]
