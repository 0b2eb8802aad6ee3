"""The device's page, extended by the calls app: its last calls and its initByCaller refusals by
errCode (``calls.selectors.reports``), so staff see at a glance whether a phone works.

``schools.admin.devices.DeviceAdmin`` keeps the device's fields and its group; this module registers
its subclass in its place (as ``contacts.admin.students`` does for the student's page).
"""

from datetime import timedelta

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from calls.selectors.reports import device_init_failures, device_recent_calls, minutes
from core.local_time import local_display
from schools.admin.devices import DeviceAdmin as SchoolsDeviceAdmin
from schools.models import Device

RECENT_CALLS = 10
FAILURE_DAYS = 30


class DeviceAdmin(SchoolsDeviceAdmin):
    """A campus phone with its last calls and its initByCaller refusals of the last 30 days."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "recent_calls", "init_failures"] if obj is not None else fields

    @admin.display(description=_("last calls"))
    def recent_calls(self, device):
        calls = device_recent_calls(device_id=device.pk, limit=RECENT_CALLS)
        if not calls:
            return _("No calls yet.")
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td class="num">{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:calls_callrecord_change", args=[call.pk]),
                    local_display(call.started_at),
                    call.student.name,
                    call.get_outcome_display(),
                    minutes(call.connected_seconds),
                    "" if call.err_code is None else call.err_code,
                )
                for call in calls
            ),
        )
        return format_html(
            '<table class="device-recent-calls"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            _("started at"),
            _("student"),
            _("outcome"),
            _("Connected minutes"),
            _("error code"),
            rows,
        )

    @admin.display(description=_("initByCaller failures in the last 30 days"))
    def init_failures(self, device):
        failures = device_init_failures(device_id=device.pk, since=timezone.now() - timedelta(days=FAILURE_DAYS))
        report = reverse("admin:calls_callfailure_changelist") + f"?device__id__exact={device.pk}&days={FAILURE_DAYS}"
        if not failures:
            return _("No failed calls in the last 30 days.")
        most = max(row["calls"] for row in failures)
        # A <meter> per errCode: a bar the browser draws, no inline style (the CSP forbids those).
        rows = format_html_join(
            "",
            '<tr><th scope="row" title="{}">{} {}</th><td><meter min="0" max="{}" value="{}"></meter></td>'
            '<td class="num device-failure-count">{}</td><td>{}</td></tr>',
            (
                (r["meaning"], _("error code"), r["err_code"], most, r["calls"], r["calls"], r["meaning"])
                for r in failures
            ),
        )
        return format_html(
            '<table class="device-init-failures"><tbody>{}</tbody></table><p><a href="{}">{}</a></p>',
            rows,
            report,
            _("Failures per day"),
        )


admin.site.unregister(Device)
admin.site.register(Device, DeviceAdmin)
