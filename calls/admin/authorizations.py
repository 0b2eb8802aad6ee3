"""What parents' mini-programs reported of devices and groups, and its history (read-only)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from calls.history import authorization_sentence
from calls.models import DeviceAuthorization, DeviceAuthorizationHistory
from core.admin import MaskedOpenidsMixin, ReadOnlyAdminMixin, details_toggle
from schools.admin.scoping import SchoolScopedAdmin


class AuthorizationRecordAdmin(MaskedOpenidsMixin, ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Rows with EITHER a device OR a group: visible to staff when whichever is set is of their school
    (the models' two ``school_path``s)."""

    masked_openids = ("parent__openid",)
    list_select_related = ["parent", "device", "group"]
    search_fields = ["parent__openid", "device__sn", "group__group_id"]
    list_filter = ["status", "stale", "source"]
    show_full_result_count = False


@admin.register(DeviceAuthorization)
class DeviceAuthorizationAdmin(AuthorizationRecordAdmin):
    list_display = ["parent__openid", "parent", "device", "group", "status", "stale", "source", "updated_at"]


@admin.register(DeviceAuthorizationHistory)
class DeviceAuthorizationHistoryAdmin(AuthorizationRecordAdmin):
    """Each change of a parent's authorization, as a sentence (``calls.history``), the raw row behind a toggle."""

    list_display = ["created_at", "sentence", "device", "group", "status", "details"]

    @admin.display(description=_("what happened"))
    def sentence(self, row):
        return authorization_sentence(row)

    @admin.display(description=_("details"))
    def details(self, row):
        fields = {"openid": row.parent.openid, "device": row.device_id, "group": row.group_id}
        return details_toggle({**fields, "status": row.status, "stale": row.stale, "source": row.source})

    date_hierarchy = "created_at"
