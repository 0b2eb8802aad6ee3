"""What parents' mini-programs reported of devices and groups, and its history (read-only)."""

from django.contrib import admin

from calls.models import DeviceAuthorization, DeviceAuthorizationHistory
from core.admin import MaskedOpenidsMixin, ReadOnlyAdminMixin
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
    list_display = ["created_at", "parent__openid", "parent", "device", "group", "status", "stale", "source"]
    date_hierarchy = "created_at"
