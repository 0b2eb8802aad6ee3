"""Call records as devices reported them (read-only), with their onVoipEvent events."""

import json
from datetime import datetime

from django.contrib import admin
from django.db.models import OuterRef
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from calls.admin.filters import StudentClassFilter
from calls.models import CallRecord
from contacts.models import Contact
from contacts.naming import contact_name
from core.admin import MaskedOpenidsMixin, ReadOnlyAdminMixin
from core.local_time import local_now
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedRelatedFilter, StudentClassOrderMixin


def _local_iso(value):
    """An ISO timestamp (stored in UTC) as local time (``TIME_ZONE``); anything else unchanged."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    return local_now(moment).isoformat() if timezone.is_aware(moment) else value


@admin.register(CallRecord)
class CallRecordAdmin(StudentClassOrderMixin, MaskedOpenidsMixin, ReadOnlyAdminMixin, SchoolScopedAdmin):
    masked_openids = ("openid",)
    list_display = [
        "started_at", "student", "class_name", "contact", "device", "openid", "room_type", "outcome",
        "keep_time", "billed_seconds", "end_reason",
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
        (None, {"fields": ["room_id", "school", "device", "student", "contact", "parent", "openid"]}),
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

    def get_queryset(self, request):
        relation = Contact.objects.relation_of(student_id=OuterRef("student_id"), parent_id=OuterRef("parent_id"))
        return super().get_queryset(request).annotate(relation=relation)

    @admin.display(description=_("class"), ordering="student_class_rank")
    def class_name(self, obj):
        return obj.student.class_name

    @admin.display(description=_("contact"))
    def contact(self, obj):
        """Who was called, as staff name a contact (王子涵的妈妈; ``contacts.naming``)."""
        if obj.parent_id is None:
            return "—"
        return contact_name(student_name=obj.student.name, relation=getattr(obj, "relation", None) or "")

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
