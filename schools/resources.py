"""Roster resources of the schools app: campus phones and device groups (``schools.roster``).

Accepted column headers (case, spaces, ``_`` and ``-`` ignored) are each resource's ``header_aliases``.
"""

from typing import ClassVar

from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from import_export import widgets
from import_export.fields import Field

from schools.models import Device, DeviceGroup
from schools.roster.formats import TEXT, formula_safe, text_field
from schools.roster.resources import SchoolRosterResource, register


class SchoolGroupWidget(widgets.Widget):
    """A device's ``group`` cell: the ``group_id`` of one of the importing school's groups."""

    def __init__(self):
        super().__init__(coerce_to_string=True)
        self.groups: dict[str, DeviceGroup] = {}  # filled by DeviceResource.before_import

    def clean(self, value, row=None, **kwargs):
        group_id = TEXT.clean(value)
        if not group_id:
            return None
        group = self.groups.get(group_id)
        if group is None:
            raise ValueError(_("No device group %(group_id)s in your school.") % {"group_id": group_id})
        return group

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else formula_safe(value.group_id)


@register
class DeviceResource(SchoolRosterResource):
    """Campus phones, upserted by ``(sn, model_id)``; ``group`` is one of the school's group_ids,
    of the device's type and not full (``Device.clean``'s rules, checked in memory)."""

    sn = text_field("sn")
    model_id = text_field("model_id")
    device_name = text_field("device_name")
    model_type = text_field("model_type")
    group = Field(attribute="group", column_name="group", widget=SchoolGroupWidget())
    location = text_field("location")

    kind = "devices"
    header_aliases: ClassVar = {
        "sn": ("序列号", "设备序列号", "设备SN"),
        "model_id": ("型号ID", "设备型号ID"),
        "device_name": ("设备名称", "名称"),
        "model_type": ("设备类型", "类型"),
        "group": ("group_id", "设备组", "设备组ID", "分组"),
        "location": ("位置", "安装位置"),
    }
    other_school_message = _("This sn and model_id are a device of another school.")

    class Meta:
        model = Device
        name = _("devices")
        fields = ("sn", "model_id", "device_name", "model_type", "group", "location")
        import_id_fields = ("sn", "model_id")

    def prefetch_queryset(self):
        return Device.objects.select_related("group")

    def prefetch_rules(self, dataset):
        groups = {g.pk: g for g in DeviceGroup.objects.filter(school=self.school)}
        self.fields["group"].widget.groups = {g.group_id: g for g in groups.values()}
        self.group_sizes = dict(
            Device.objects.filter(group__in=groups)
            .order_by()
            .values("group")
            .annotate(n=Count("pk"))
            .values_list("group", "n")
        )

    def check_rules(self, instance):
        group = instance.group
        old_group = self.snapshots.get(instance.pk, {}).get("group")
        if group is not None:
            others = self.group_sizes.get(group.pk, 0) - (1 if group == old_group else 0)
            error = instance.group_error(others_in_group=others)  # the model's rule, counted in memory
            if error:
                return {"group": [error]}
        if group != old_group:
            if group is not None:
                self.group_sizes[group.pk] = self.group_sizes.get(group.pk, 0) + 1
            if old_group is not None:
                self.group_sizes[old_group.pk] -= 1
        return {}

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("group")


@register
class DeviceGroupResource(SchoolRosterResource):
    """Device groups, created by ``group_id``; WeChat fixes a group's name and type at creation,
    so a row that would change them is an error (identical rows are skipped)."""

    group_id = text_field("group_id")
    name = text_field("name")
    model_type = text_field("model_type")

    kind = "groups"
    header_aliases: ClassVar = {
        "group_id": ("设备组ID", "组ID"),
        "name": ("group_name", "设备组名称", "名称", "组名"),
        "model_type": ("设备类型", "类型"),
    }
    other_school_message = _("This group_id is a device group of another school.")

    class Meta:
        model = DeviceGroup
        name = _("device groups")
        fields = ("group_id", "name", "model_type")
        import_id_fields = ("group_id",)

    def check_rules(self, instance):
        before = self.snapshots.get(instance.pk, {})
        return {
            attr: [_("Fixed when the group was created (WeChat); it is %(value)s.") % {"value": before[attr]}]
            for attr in ("name", "model_type")
            if attr in before and getattr(instance, attr) != before[attr]
        }
