"""What parents' mini-programs reported of devices and groups, and its history (read-only)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from calls.models import DeviceAuthorization, DeviceAuthorizationHistory
from core.admin import ReadOnlyAdminMixin
from schools.admin.scoping import SchoolScopedAdmin


class AuthorizationRecordAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Rows with EITHER a device OR a group: visible to staff when whichever is set is of their school
    (the models' two ``school_path``s)."""

    list_select_related = ["parent", "device", "group"]
    search_fields = ["parent__openid", "device__sn", "group__group_id"]
    list_filter = ["status", "stale", "source"]
    show_full_result_count = False

    @admin.display(description=_("openid"), ordering="parent__openid")
    def openid(self, obj):
        return obj.parent.openid


@admin.register(DeviceAuthorization)
class DeviceAuthorizationAdmin(AuthorizationRecordAdmin):
    list_display = ["openid", "parent", "device", "group", "status", "stale", "source", "updated_at"]


@admin.register(DeviceAuthorizationHistory)
class DeviceAuthorizationHistoryAdmin(AuthorizationRecordAdmin):
    list_display = ["created_at", "openid", "parent", "device", "group", "status", "stale", "source"]
    date_hierarchy = "created_at"
