"""What happened, read-only: audit records and background import jobs."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin import MaskedOpenidsMixin, ReadOnlyAdminMixin, details_toggle
from schools.admin.scoping import SchoolScopedAdmin
from schools.history import audit_sentence
from schools.models import AuditLog, ImportJob
from schools.roster.errors import import_error_text


class AuditHistoryMixin:
    """An audit row as a sentence (``schools.history``) with its raw fields behind a details toggle."""

    def audit_people(self, row) -> dict:
        """openid → how to name that parent in the row's sentence; none here (the row's data names it)."""
        return {}

    @admin.display(description=_("what happened"))
    def sentence(self, row):
        return audit_sentence(row, people=self.audit_people(row))

    @admin.display(description=_("details"))
    def details(self, row):
        return details_toggle(
            {
                "action": row.action,
                "actor_user": row.actor_user.get_username() if row.actor_user_id else None,
                "actor_openid": row.actor_openid,
                "reason": row.reason,
                "data": row.data,
            }
        )


@admin.register(AuditLog)
class AuditLogAdmin(AuditHistoryMixin, MaskedOpenidsMixin, ReadOnlyAdminMixin, SchoolScopedAdmin):
    masked_openids = ("actor_openid",)
    list_display = ["created_at", "sentence", "school", "student", "details"]
    fields = ["created_at", "sentence", "school", "student", "action", "actor_user", "actor_openid", "reason", "data"]
    readonly_fields = fields
    list_filter = ["action", "school", "created_at"]
    search_fields = ["student__user_id", "student__name", "actor_openid", "actor_user__username"]
    list_select_related = ["school", "student", "actor_user"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Background roster imports and their progress; started from the students', devices' or
    device groups' import page when a file is large."""

    list_display = [
        "created_at",
        "kind",
        "file_name",
        "status",
        "progress",
        "total_rows",
        "school",
        "created_by",
        "finished_at",
    ]
    list_filter = ["status", "kind", "school"]
    search_fields = ["file_name"]
    list_select_related = ["school", "created_by"]
    fields = [
        "school",
        "kind",
        "file_name",
        "file_format",
        "deactivate_missing",
        "status",
        "progress",
        "processed_rows",
        "total_rows",
        "totals",
        "error_list",
        "created_by",
        "created_at",
        "finished_at",
        "attempts",
        "heartbeat_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")

    @admin.display(description=_("progress"))
    def progress(self, job):
        return f"{job.progress_percent}%"

    @admin.display(description=_("errors"))
    def error_list(self, job):
        if not job.errors:
            return "-"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((import_error_text(e),) for e in job.errors))
        )
