"""Device groups and campus phones, with their roster import and export (``schools.resources``).

A group and its membership live at WeChat (REFERENCE.md §1, §5; ``schools.services.device_groups``):
the group's add form creates it there (or imports one WeChat already has, by ``group_id``), a
device's form moves it between groups there, and WeChat's refusals are shown as errors of the form,
with nothing saved. The service runs while the form is validated (``_post_clean``), so that a
refusal re-renders the form; the admin then only records what the service saved. The group's
page lists its devices read-only and adds new phones to it (``NewDeviceInline``: of the group's
school and type, added at WeChat); moving an existing phone is done on the phone's page.
"""

from django import forms
from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError, UpstreamUnavailable
from schools.admin.roster import RosterImportExportMixin
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedInline
from schools.models import CallMode, Device, DeviceGroup
from schools.resources import DeviceGroupResource, DeviceResource
from schools.services.device_groups import (
    device_group_create,
    device_group_import,
    device_group_reconcile,
    device_group_set,
)
from schools.tenancy import ALL_SCHOOLS, staff_school_id


class WeChatBackedForm(forms.ModelForm):
    """A form whose save is a service call made while it is validated (``run_service``).

    ``actor_user`` and ``school_id`` (the staff user's school, ``ALL_SCHOOLS`` for superusers) are
    set by the admin's ``get_form``. ``saved``: the service saved the row (the admin must not).
    """

    actor_user = None
    school_id = ALL_SCHOOLS
    field_of_error: dict[str, str] = {}  # a service's field name → this form's field

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved = False

    def _post_clean(self):
        super()._post_clean()  # the model's own validation first: nothing reaches WeChat that it refuses
        if self.errors:
            return
        if self.school_id is not ALL_SCHOOLS:
            self.instance.school_id = self.school_id  # staff cannot put a row into another school
        try:
            self.saved = self.run_service()
        except ApplicationError as exc:  # WeChat's refusal (or the service's rule), or WeChat unreachable
            field = self.field_of_error.get(exc.field, exc.field)
            self.add_error(field if field in self.fields else None, exc.message)

    def run_service(self) -> bool:
        """Make the change at WeChat and save it (a service); True when it saved ``self.instance``."""
        return False


class DeviceGroupAddForm(WeChatBackedForm):
    """Creates the group at WeChat (``group/createid``: name and ``model_id``), or, with a
    ``group_id``, imports a group WeChat already has (``getinfo``: its name and ``model_id``)."""

    group_id = forms.CharField(
        label=_("import by device group ID"),
        max_length=64,
        required=False,
        help_text=_(
            "To take a group WeChat already has, give its group_id and leave name and model_id empty: "
            "WeChat's are taken, and the school's phones WeChat lists join it. Empty: a new group is "
            "created at WeChat."
        ),
    )
    field_of_error = {"group": "group_id"}

    class Meta:
        model = DeviceGroup
        fields = ["school", "name", "model_id", "model_type", "capacity"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("name", "model_id"):  # required to create, empty to import (``clean``)
            if name in self.fields:
                self.fields[name].required = False

    def clean(self):
        data = super().clean()
        importing = bool(data.get("group_id"))
        for name in ("name", "model_id"):
            if importing and data.get(name):
                self.add_error(name, _("Leave it empty to import by group_id: WeChat's is taken."))
            elif not importing and not data.get(name) and name not in self.errors:
                self.add_error(name, forms.Field.default_error_messages["required"])
        return data

    def run_service(self) -> bool:
        data = self.cleaned_data
        school = self.instance.school
        if data.get("group_id"):
            self.instance = device_group_import(
                school=school,
                group_id=data["group_id"],
                model_type=data["model_type"],
                capacity=data["capacity"],
                actor_user=self.actor_user,
            )
        else:
            self.instance = device_group_create(
                school=school,
                name=data["name"],
                model_id=data["model_id"],
                model_type=data["model_type"],
                capacity=data["capacity"],
                actor_user=self.actor_user,
            )
        return True


class DeviceForm(WeChatBackedForm):
    """A device; a change of ``group`` (or a new device with one) is made at WeChat first
    (``device_group_set``: out of the old group, into the new one; audited), which saves the device."""

    class Meta:
        model = Device
        fields = [
            "school",
            "sn",
            "model_id",
            "device_name",
            "model_type",
            "call_mode",
            "group",
            "location",
            "is_active",
        ]

    def run_service(self) -> bool:
        if "group" not in self.changed_data:
            return False
        device_group_set(device=self.instance, group=self.cleaned_data["group"], actor_user=self.actor_user)
        return True


class NewDeviceForm(WeChatBackedForm):
    """A phone added on its group's page (``NewDeviceInline``): of the group's school and device
    type, in hardware mode, put into the group at WeChat (``device_group_set``, which saves it).

    ``Device.clean`` names the inline's hidden ``group`` field; its errors are shown on ``model_id``
    (another model than the group's) or on the row, where staff see them.
    """

    group_of_page: DeviceGroup | None = None  # set by NewDeviceInline.get_formset
    field_of_error = {"group": None}  # WeChat's refusals (9800014-9800016): on the row

    class Meta:
        model = Device
        fields = ["sn", "model_id", "device_name", "location"]
        widgets = {name: forms.TextInput(attrs={"size": 18}) for name in fields}  # four to a row, in the page

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_id"].initial = self.group_of_page.model_id

    def _post_clean(self):
        group = self.group_of_page
        self.instance.school_id, self.instance.model_type = group.school_id, group.model_type
        self.instance.call_mode = CallMode.HARDWARE
        super()._post_clean()
        for error in self._errors.pop("group", []):
            wrong_model = group.model_id and self.cleaned_data.get("model_id") not in (None, group.model_id)
            self.add_error("model_id" if wrong_model else None, error)

    def run_service(self) -> bool:
        device_group_set(device=self.instance, group=self.group_of_page, actor_user=self.actor_user)
        return True


class NewDeviceFormSet(BaseInlineFormSet):
    def save_new(self, form, commit=True):
        return form.instance if form.saved else super().save_new(form, commit)  # saved by device_group_set


def _with_request(form_class, request, **attrs):
    """``form_class`` knowing the acting user and the school it may write to."""
    attrs = {"actor_user": request.user, "school_id": staff_school_id(request.user), **attrs}
    return type(form_class.__name__, (form_class,), attrs)


class DeviceInline(SchoolScopedInline):
    """The group's devices, read-only: membership changes at WeChat, from each device's page."""

    model = Device
    fields = ["sn", "model_id", "device_name", "is_active"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class NewDeviceInline(SchoolScopedInline):
    """Empty rows to add phones to the group (``NewDeviceForm``); the group's phones are ``DeviceInline``'s."""

    model = Device
    form = NewDeviceForm
    formset = NewDeviceFormSet
    fields = ["sn", "model_id", "device_name", "location"]
    extra = 1
    can_delete = False
    verbose_name = _("new device")
    verbose_name_plural = _("add devices to the group")

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = _with_request(formset.form, request, group_of_page=obj)
        return formset


def _sns(sns: list[str]) -> str:
    return ", ".join(sorted(sns)) or "—"


@admin.register(DeviceGroup)
class DeviceGroupAdmin(RosterImportExportMixin, SchoolScopedAdmin):
    """A group is created at WeChat (or imported from it by ``group_id``); its school, name,
    group_id, model_id and device type are then fixed, the capacity (50, or 200 after WeChat expanded it)
    stays editable. "Read membership from WeChat" reconciles the selected groups now (a beat task
    does it daily)."""

    resource_classes = [DeviceGroupResource]
    list_display = ["name", "group_id", "school", "model_type", "capacity", "checked_at", "created_at"]
    list_filter = ["school", "model_type"]
    search_fields = ["name", "group_id"]
    list_select_related = ["school"]
    inlines = [DeviceInline]
    actions = ["read_membership_from_wechat"]
    add_form = DeviceGroupAddForm
    change_fields = ["school", "name", "group_id", "model_id", "model_type", "capacity", "checked_at", "created_at"]

    def get_inlines(self, request, obj):
        return [DeviceInline, NewDeviceInline] if obj is not None else [DeviceInline]

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return [(None, {"fields": self.change_fields})]
        return [
            (None, {"fields": ["school", "model_type", "capacity"]}),
            (_("Create a new group at WeChat"), {"fields": ["name", "model_id"]}),
            (_("Or import a group WeChat already has"), {"fields": ["group_id"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [name for name in self.change_fields if name != "capacity"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return _with_request(super().get_form(request, obj, change=change, **kwargs), request)

    def save_model(self, request, obj, form, change):
        if not getattr(form, "saved", False):
            super().save_model(request, obj, form, change)

    @admin.action(description=_("Read membership from WeChat"), permissions=["change"])
    def read_membership_from_wechat(self, request, queryset):
        for group in queryset.select_related("school"):
            try:
                result = device_group_reconcile(group=group, actor_user=request.user)
            except UpstreamUnavailable as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
            except ApplicationError as exc:
                self.message_user(
                    request, _("%(group)s: %(error)s") % {"group": group, "error": exc.message}, messages.ERROR
                )
                continue
            if not any(result.values()):
                self.message_user(request, _("%(group)s: as WeChat lists it.") % {"group": group}, messages.SUCCESS)
                continue
            self.message_user(
                request,
                _(
                    "%(group)s: added %(added)s; removed %(removed)s; listed by WeChat but not "
                    "hardware-mode phones of the school: %(unknown)s."
                )
                % {
                    "group": group,
                    "added": _sns(result["added"]),
                    "removed": _sns(result["removed"]),
                    "unknown": _sns(result["unknown"]),
                },
                messages.WARNING if result["unknown"] else messages.SUCCESS,
            )


@admin.register(Device)
class DeviceAdmin(RosterImportExportMixin, SchoolScopedAdmin):
    """A campus phone; changing its group moves it at WeChat first (``DeviceForm``)."""

    resource_classes = [DeviceResource]
    form = DeviceForm
    list_display = [
        "sn",
        "model_id",
        "device_name",
        "model_type",
        "call_mode",
        "group",
        "school",
        "location",
        "is_active",
    ]
    list_filter = ["school", "is_active", "call_mode", "model_type", "group"]
    search_fields = ["sn", "model_id", "device_name", "location"]
    list_select_related = ["school", "group"]
    autocomplete_fields = ["group"]  # choices come from DeviceGroupAdmin's scoped queryset

    def get_form(self, request, obj=None, change=False, **kwargs):
        return _with_request(super().get_form(request, obj, change=change, **kwargs), request)

    def save_model(self, request, obj, form, change):
        if not getattr(form, "saved", False):  # saved (and audited) by device_group_set
            super().save_model(request, obj, form, change)
