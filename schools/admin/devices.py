"""Device groups and campus phones, with their roster import and export (``schools.resources``)."""

from django.contrib import admin

from schools.admin.roster import RosterImportExportMixin
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedInline
from schools.models import Device, DeviceGroup
from schools.resources import DeviceGroupResource, DeviceResource


class DeviceInline(SchoolScopedInline):
    model = Device
    fields = ["sn", "model_id", "device_name", "is_active"]
    extra = 0
    show_change_link = True


@admin.register(DeviceGroup)
class DeviceGroupAdmin(RosterImportExportMixin, SchoolScopedAdmin):
    resource_classes = [DeviceGroupResource]
    list_display = ["name", "group_id", "school", "model_type", "capacity", "created_at"]
    list_filter = ["school", "model_type"]
    search_fields = ["name", "group_id"]
    list_select_related = ["school"]
    inlines = [DeviceInline]


@admin.register(Device)
class DeviceAdmin(RosterImportExportMixin, SchoolScopedAdmin):
    resource_classes = [DeviceResource]
    list_display = ["sn", "model_id", "device_name", "model_type", "group", "school", "location", "is_active"]
    list_filter = ["school", "is_active", "model_type", "group"]
    search_fields = ["sn", "model_id", "device_name", "location"]
    list_select_related = ["school", "group"]
    autocomplete_fields = ["group"]  # choices come from DeviceGroupAdmin's scoped queryset
