"""Roster resources of the schools app: campus phones and device groups (``schools.roster``).

Accepted column headers (case, spaces, ``_`` and ``-`` ignored) are each resource's ``header_aliases``.
Device groups live at WeChat (REFERENCE.md §1, §5; ``schools.services.device_groups``): a new
group's row is checked there, and a devices file moves the phones at WeChat before it is written.
"""

from typing import ClassVar

from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from import_export import widgets
from import_export.fields import Field

from core.errors import ApplicationError, UpstreamUnavailable
from schools.models import CallMode, Device, DeviceGroup
from schools.roster.formats import TEXT, formula_safe, text_field
from schools.roster.resources import SchoolRosterResource, register
from schools.services.device_groups import device_group_info, device_membership_change


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


class CallModeWidget(widgets.Widget):
    """A device's ``call_mode`` cell: ``hardware`` / ``face_pay``, or 硬件 / 刷脸 (with or without 模式);
    empty: ``hardware``, the model's default (REFERENCE.md §1a)."""

    VALUES: ClassVar = {
        CallMode.HARDWARE.value: CallMode.HARDWARE,
        "硬件": CallMode.HARDWARE,
        "硬件模式": CallMode.HARDWARE,
        CallMode.FACE_PAY.value: CallMode.FACE_PAY,
        "facepay": CallMode.FACE_PAY,
        "刷脸": CallMode.FACE_PAY,
        "刷脸模式": CallMode.FACE_PAY,
        "刷脸支付": CallMode.FACE_PAY,
    }

    def __init__(self):
        super().__init__(coerce_to_string=True)

    def clean(self, value, row=None, **kwargs):
        text = TEXT.clean(value).lower().replace("-", "_")
        if not text:
            return CallMode.HARDWARE.value
        mode = self.VALUES.get(text)
        if mode is None:
            raise ValueError(_("Write hardware (硬件) or face_pay (刷脸)."))
        return mode.value

    def render(self, value, obj=None, **kwargs):
        return value or ""


@register
class DeviceResource(SchoolRosterResource):
    """Campus phones, upserted by ``(sn, model_id)``; ``call_mode`` is ``hardware`` (empty cell) or
    ``face_pay``; ``group`` is one of the school's group_ids, of the device's type and not full, and
    only for hardware-mode phones (``Device.group_error``, checked in memory). Before the rows are
    written, WeChat's membership is changed for every device whose group the file changes
    (``device_membership_change``); a refusal imports nothing."""

    sn = text_field("sn")
    model_id = text_field("model_id")
    device_name = text_field("device_name")
    model_type = text_field("model_type")
    call_mode = Field(attribute="call_mode", column_name="call_mode", widget=CallModeWidget())
    group = Field(attribute="group", column_name="group", widget=SchoolGroupWidget())
    location = text_field("location")

    kind = "devices"
    header_aliases: ClassVar = {
        "sn": ("序列号", "设备序列号", "设备SN"),
        "model_id": ("型号ID", "设备型号ID"),
        "device_name": ("设备名称", "名称"),
        "model_type": ("设备类型", "类型"),
        "call_mode": ("模式", "通话模式", "呼叫模式"),
        "group": ("group_id", "设备组", "设备组ID", "分组"),
        "location": ("位置", "安装位置"),
    }
    other_school_message = _("This sn and model_id cannot be imported; check them with the platform operator.")

    class Meta:
        model = Device
        name = _("devices")
        fields = ("sn", "model_id", "device_name", "model_type", "call_mode", "group", "location")
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

    def before_write(self, instances):
        """WeChat's membership follows the file: for each device whose group changes, out of the old
        group (before the import) and into the new one. Raises ``ApplicationError`` naming the group
        WeChat refused (or ``UpstreamUnavailable``); nothing is written then."""
        changes = []
        for device in instances:
            old = self.snapshots[device.pk]["group"] if device.pk else None
            if old != device.group:
                changes.append((device, old, device.group))
        if not changes:
            return
        try:
            device_membership_change(changes=changes)
        except UpstreamUnavailable:
            raise
        except ApplicationError as exc:
            raise ApplicationError(
                _("WeChat refused to change device group %(group_id)s: %(error)s")
                % {"group_id": getattr(exc, "group_id", ""), "error": exc.message},
                field="group",
                errcode=exc.errcode,
            ) from exc

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("group")


@register
class DeviceGroupResource(SchoolRosterResource):
    """Device groups WeChat already has, taken by ``group_id`` (groups are created in the admin,
    where WeChat issues the ``group_id``). A new group_id is read at WeChat (``getinfo``): unknown
    there is a row error on ``group_id``; its name and ``model_id`` are WeChat's (an empty ``name``
    cell takes WeChat's, another name is an error). WeChat fixes a group's name and type at
    creation, so a row that would change them is an error (identical rows are skipped; an empty
    ``name`` keeps the group's). Membership is read back by the daily reconcile (new groups first)."""

    group_id = text_field("group_id")
    name = text_field("name")
    model_type = text_field("model_type")

    kind = "groups"
    header_aliases: ClassVar = {
        "group_id": ("设备组ID", "组ID"),
        "name": ("group_name", "设备组名称", "名称", "组名"),
        "model_type": ("设备类型", "类型"),
    }
    other_school_message = _("This group_id cannot be imported; check it with the platform operator.")

    class Meta:
        model = DeviceGroup
        name = _("device groups")
        fields = ("group_id", "name", "model_type")
        import_id_fields = ("group_id",)

    def prefetch_rules(self, dataset):
        self.wechat_down: str | None = None  # WeChat's busy message, once it was: not asked again

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if instance.pk and not instance.name:
            instance.name = self.snapshots[instance.pk]["name"]

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        if instance.pk is None and "group_id" not in errors:
            errors.update(self.wechat_errors(instance))
        super().validate_instance(instance, errors, validate_unique)

    def wechat_errors(self, instance) -> dict:
        """A new group, read at WeChat: its name and ``model_id`` set on ``instance``; the row's errors."""
        if not instance.group_id:
            return {"group_id": [_("Give the group_id WeChat issued; new groups are created in the admin.")]}
        if self.wechat_down:
            return {"group_id": [self.wechat_down]}
        try:
            info = device_group_info(group_id=instance.group_id)
        except UpstreamUnavailable as exc:
            self.wechat_down = str(exc.message)
            return {"group_id": [self.wechat_down]}
        except ApplicationError as exc:
            return {"group_id": [exc.message]}
        if info is None:  # the sandbox: the file's name, no model_id
            return {}
        instance.model_id = info["model_id"]
        if not instance.name:
            instance.name = info["group_name"]
        elif instance.name != info["group_name"]:
            return {
                "name": [
                    _("Fixed when the group was created (WeChat); it is %(value)s.") % {"value": info["group_name"]}
                ]
            }
        return {}

    def check_rules(self, instance):
        before = self.snapshots.get(instance.pk, {})
        return {
            attr: [_("Fixed when the group was created (WeChat); it is %(value)s.") % {"value": before[attr]}]
            for attr in ("name", "model_type")
            if attr in before and getattr(instance, attr) != before[attr]
        }
