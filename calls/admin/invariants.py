"""The invariant checks' reports (``InvariantCheckRun``), read-only and for platform superusers:
the daily beat task's result, newest first, with every problem it found."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from calls.models import InvariantCheckRun
from core.admin import ReadOnlyAdminMixin, SuperuserOnlyAdminMixin


@admin.register(InvariantCheckRun)
class InvariantCheckRunAdmin(SuperuserOnlyAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["started_at", "finished_at", "problems", "broken"]
    list_filter = ["started_at"]
    date_hierarchy = "started_at"
    fields = ["started_at", "finished_at", "problems", "report"]
    readonly_fields = fields
    actions = None

    @admin.display(description=_("broken invariants"))
    def broken(self, run):
        return ", ".join(entry["code"] for entry in run.details if entry.get("total")) or "-"

    @admin.display(description=_("report"))
    def report(self, run):
        return format_html(
            "<dl>{}</dl>",
            format_html_join(
                "",
                "<dt>{} · {} ({})</dt><dd><ul>{}</ul></dd>",
                (
                    (
                        entry["code"],
                        entry["title"],
                        entry["total"],
                        format_html_join("", "<li>{}</li>", ((line,) for line in entry["lines"])),
                    )
                    for entry in run.details
                ),
            ),
        )
