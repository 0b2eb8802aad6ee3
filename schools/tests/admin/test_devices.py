"""Device groups and devices in the admin, through WeChat (``schools.admin.devices``; REFERENCE.md §5),
with the Django test client against the fake WeChat: WeChat's refusals are errors of the form's
field, and nothing is saved."""

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.urls import reverse

from core.wechat.errcodes import ErrCode
from schools.models import AuditLog, CallMode, Device, DeviceGroup
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory, StaffMembershipFactory
from schools.tests.wechat_groups import group_calls, members, wechat_group, wechat_refuses

pytestmark = pytest.mark.django_db

NO_DEVICES = {"devices-TOTAL_FORMS": 0, "devices-INITIAL_FORMS": 0}  # the group page's (read-only) inline
NO_NEW_DEVICES = {"devices-2-TOTAL_FORMS": 0, "devices-2-INITIAL_FORMS": 0}  # its new devices' inline


@pytest.fixture
def staff(client):
    membership = StaffMembershipFactory(school=SchoolFactory(name="甲校"), permissions=["schools"])
    client.force_login(membership.user)
    return membership


def add_group(client, **data):
    fields = {"school": "", "name": "", "model_id": "", "group_id": "", "model_type": "校园电话", "capacity": 50}
    return client.post(reverse("admin:schools_devicegroup_add"), {**fields, **data, **NO_DEVICES})


def form_errors(response) -> dict:
    assert response.status_code == 200, response
    return response.context["adminform"].form.errors


def device_data(device, **changes) -> dict:
    data = {
        "school": device.school_id,
        "sn": device.sn,
        "model_id": device.model_id,
        "device_name": device.device_name,
        "model_type": device.model_type,
        "call_mode": device.call_mode,
        "group": device.group_id or "",
        "location": device.location,
        "is_active": "on" if device.is_active else "",
    }
    return {**data, **changes}


def change_device(client, device, **changes):
    return client.post(reverse("admin:schools_device_change", args=[device.pk]), device_data(device, **changes))


# --- the group's add page: createid ---------------------------------------------------------------


def test_the_add_page_creates_the_group_at_wechat(client, staff, fake_wechat):
    page = client.get(reverse("admin:schools_devicegroup_add"))
    assert set(page.context["adminform"].form.fields) == {
        "school",
        "name",
        "model_id",
        "model_type",
        "capacity",
        "group_id",
    }
    response = add_group(client, school=staff.school_id, name="实验小学教学楼", model_id="mdl_campusphone_v2")
    assert response.status_code == 302, form_errors(response)
    group = DeviceGroup.objects.get()
    assert (group.school, group.group_id, group.name) == (staff.school, "grp_fake_0001", "实验小学教学楼")
    assert group_calls(fake_wechat) == ["createid"]
    assert fake_wechat.groups["grp_fake_0001"]["model_id"] == "mdl_campusphone_v2"
    assert AuditLog.objects.get(action=AuditLog.Action.DEVICE_GROUP_CREATED).actor_user == staff.user


def test_a_superuser_chooses_the_school(client, fake_wechat):
    school = SchoolFactory()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = add_group(client, school=school.pk, name="教学楼", model_id="m")
    assert response.status_code == 302
    assert DeviceGroup.objects.get().school == school


def test_9800012_is_an_error_on_name_and_nothing_is_saved(client, staff, fake_wechat):
    wechat_refuses(fake_wechat, ErrCode.GROUP_NAME_INVALID)
    errors = form_errors(add_group(client, school=staff.school_id, name="教学楼", model_id="m"))
    assert "9800012" in errors["name"][0]
    assert not DeviceGroup.objects.exists() and not AuditLog.objects.exists()


def test_a_name_over_32_bytes_never_reaches_wechat(client, staff, fake_wechat):
    errors = form_errors(add_group(client, school=staff.school_id, name="教" * 11, model_id="m"))
    assert list(errors) == ["name"] and fake_wechat.requests == []


def test_creating_needs_name_and_model_id(client, staff, fake_wechat):
    errors = form_errors(add_group(client, school=staff.school_id))
    assert set(errors) == {"name", "model_id"} and fake_wechat.requests == []


def test_wechat_unreachable_is_an_error_of_the_form(client, staff):
    response = add_group(client, school=staff.school_id, name="教学楼", model_id="m")  # closed port
    assert form_errors(response)["__all__"] and not DeviceGroup.objects.exists()


# --- the group's add page: import by group_id (getinfo) -------------------------------------------


def test_the_add_page_imports_a_group_by_group_id(client, staff, fake_wechat):
    device = DeviceFactory(school=staff.school, sn="SN-1")
    wechat_group(fake_wechat, "grp_made_elsewhere", "宿舍楼", devices=[device])
    response = add_group(client, school=staff.school_id, group_id="grp_made_elsewhere", capacity=200)
    assert response.status_code == 302, form_errors(response)
    group = DeviceGroup.objects.get()
    assert (group.name, group.model_id, group.capacity) == ("宿舍楼", "mdl_campusphone_v2", 200)
    assert list(group.devices.all()) == [device]
    assert group_calls(fake_wechat) == ["getinfo", "getinfo"]


def test_9800013_importing_a_group_wechat_does_not_know_is_an_error_on_group_id(client, staff, fake_wechat):
    errors = form_errors(add_group(client, school=staff.school_id, group_id="grp_nowhere"))
    assert list(errors) == ["group_id"] and "9800013" in errors["group_id"][0]
    assert not DeviceGroup.objects.exists()


def test_importing_takes_wechats_name_and_model_id_not_the_forms(client, staff, fake_wechat):
    wechat_group(fake_wechat, "grp_x")
    errors = form_errors(add_group(client, school=staff.school_id, group_id="grp_x", name="别的名字", model_id="m"))
    assert set(errors) == {"name", "model_id"} and fake_wechat.requests == []


# --- the group's change page ----------------------------------------------------------------------


def test_the_change_page_fixes_what_wechat_fixed_and_lists_devices_read_only(client, staff, fake_wechat):
    group = DeviceGroupFactory(school=staff.school, name="教学楼", group_id="grp_a")
    device = DeviceFactory(school=staff.school, group=group, sn="SN-IN-GROUP")
    url = reverse("admin:schools_devicegroup_change", args=[group.pk])

    page = client.get(url)
    devices, new_devices = page.context["inline_admin_formsets"]
    assert not devices.has_add_permission and not devices.formset.can_delete
    assert new_devices.has_add_permission and not new_devices.formset.initial_forms  # adds, lists nothing
    assert set(devices.readonly_fields) >= {"sn", "model_id", "device_name", "is_active"}
    content = page.content.decode()
    assert "SN-IN-GROUP" in content and reverse("admin:schools_device_change", args=[device.pk]) in content

    data = {"name": "新名字", "group_id": "grp_changed", "model_id": "x", "model_type": "x", "capacity": 200}
    other = DeviceGroupFactory(school=staff.school)
    inline = {"devices-TOTAL_FORMS": 1, "devices-INITIAL_FORMS": 1, "devices-0-id": device.pk, **NO_NEW_DEVICES}
    response = client.post(url, {**data, **inline, "devices-0-group": other.pk, "devices-0-sn": "改"})
    assert response.status_code == 200  # the row stays in its group: the inline cannot move it
    response = client.post(url, {**data, **inline, "devices-0-group": group.pk, "devices-0-sn": "改"})
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.name, group.group_id, group.model_id, group.model_type, group.capacity) == (
        "教学楼",
        "grp_a",
        "mdl_campusphone_v2",
        "校园电话",
        200,
    )
    device.refresh_from_db()
    assert (device.group, device.sn) == (group, "SN-IN-GROUP")
    assert fake_wechat.requests == []


def test_read_membership_from_wechat_reports_each_group(client, staff, fake_wechat):
    group = DeviceGroupFactory(school=staff.school, name="教学楼", group_id="grp_a")
    gone = DeviceFactory(school=staff.school, group=group, sn="GONE")
    joined = DeviceFactory(school=staff.school, sn="JOINED")
    wechat_group(fake_wechat, "grp_a", devices=[joined, ("STRANGER", "mdl_campusphone_v2")])
    deleted = DeviceGroupFactory(school=staff.school, name="旧楼", group_id="grp_deleted")

    response = client.post(
        reverse("admin:schools_devicegroup_changelist"),
        {"action": "read_membership_from_wechat", "_selected_action": [group.pk, deleted.pk]},
    )

    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("教学楼" in m and "JOINED" in m and "GONE" in m and "STRANGER" in m for m in shown), shown
    assert any("旧楼" in m and "9800013" in m for m in shown), shown
    gone.refresh_from_db()
    joined.refresh_from_db()
    assert gone.group is None and joined.group == group


# --- the device's page: adddevice / removedevice --------------------------------------------------


@pytest.fixture
def groups(staff, fake_wechat):
    """Two groups of the staff's school, A and B, both at WeChat; a device in A at both ends."""
    a = DeviceGroupFactory(school=staff.school, group_id="grp_a")
    b = DeviceGroupFactory(school=staff.school, group_id="grp_b")
    device = DeviceFactory(school=staff.school, group=a, sn="SN-1")
    wechat_group(fake_wechat, "grp_a", devices=[device])
    wechat_group(fake_wechat, "grp_b")
    return a, b, device


def test_moving_a_device_moves_it_at_wechat_audited_once(client, staff, fake_wechat, groups):
    a, b, device = groups
    response = change_device(client, device, group=b.pk, location="二楼")
    assert response.status_code == 302, form_errors(response)
    device.refresh_from_db()
    assert (device.group, device.location) == (b, "二楼")
    assert members(fake_wechat, "grp_a") == set() and members(fake_wechat, "grp_b") == {"SN-1"}
    assert group_calls(fake_wechat) == ["removedevice", "adddevice"]
    [audit] = AuditLog.objects.filter(action=AuditLog.Action.DEVICE_GROUP_CHANGED)
    assert audit.data == {"sn": "SN-1", "from": "grp_a", "to": "grp_b"} and audit.actor_user == staff.user


def test_a_change_without_a_new_group_does_not_ask_wechat(client, staff, fake_wechat, groups):
    _, _, device = groups
    assert change_device(client, device, location="三楼").status_code == 302
    assert fake_wechat.requests == [] and not AuditLog.objects.exists()


def deleted_at_wechat(fake, device):
    fake.groups.pop("grp_b")


def another_model_at_wechat(fake, device):
    fake.groups["grp_b"]["model_id"] = "mdl_other"


def in_a_group_the_portal_does_not_know(fake, device):
    Device.objects.filter(pk=device.pk).update(group=None)
    fake.groups["grp_a"]["devices"] = []
    wechat_group(fake, "grp_elsewhere", devices=[device])


def full_at_wechat(fake, device):
    fake.group_capacity = 0


def not_in_its_group_at_wechat(fake, device):
    fake.groups["grp_a"]["devices"] = []


@pytest.mark.parametrize(
    ("errcode", "arrange"),
    [
        (ErrCode.GROUP_ID_INVALID, deleted_at_wechat),
        (ErrCode.GROUP_TYPE_MISMATCH, another_model_at_wechat),
        (ErrCode.GROUP_DEVICE_IN_ANOTHER, in_a_group_the_portal_does_not_know),
        (ErrCode.GROUP_FULL, full_at_wechat),
        (ErrCode.GROUP_DEVICE_NOT_IN, not_in_its_group_at_wechat),  # removedevice from A
    ],
)
def test_wechat_refusing_a_move_is_an_error_on_group_and_nothing_is_saved(
    client, staff, fake_wechat, groups, errcode, arrange
):
    _, b, device = groups
    arrange(fake_wechat, device)
    device.refresh_from_db()
    before = device.group_id
    errors = form_errors(change_device(client, device, group=b.pk, location="改了"))
    assert list(errors) == ["group"] and str(errcode) in errors["group"][0]
    device.refresh_from_db()
    assert (device.group_id, device.location) == (before, "")
    assert not AuditLog.objects.exists()


def test_taking_a_device_out_of_its_group_removes_it_at_wechat(client, staff, fake_wechat, groups):
    _, _, device = groups
    assert change_device(client, device, group="").status_code == 302
    assert Device.objects.get(pk=device.pk).group is None and members(fake_wechat, "grp_a") == set()


def test_a_new_device_with_a_group_is_added_at_wechat(client, staff, fake_wechat, groups):
    _, b, _ = groups
    new = Device(school=staff.school, sn="NEW-1", model_id="mdl_campusphone_v2", device_name="新电话")
    response = client.post(reverse("admin:schools_device_add"), device_data(new, group=b.pk))
    assert response.status_code == 302, form_errors(response)
    assert Device.objects.get(sn="NEW-1").group == b and members(fake_wechat, "grp_b") == {"NEW-1"}
    assert AuditLog.objects.filter(action=AuditLog.Action.DEVICE_GROUP_CHANGED).count() == 1


def test_a_new_device_wechat_refuses_is_not_saved(client, staff, fake_wechat, groups):
    _, b, _ = groups
    fake_wechat.group_capacity = 0
    new = Device(school=staff.school, sn="NEW-1", model_id="mdl_campusphone_v2", device_name="新电话")
    errors = form_errors(client.post(reverse("admin:schools_device_add"), device_data(new, group=b.pk)))
    assert "9800016" in errors["group"][0] and not Device.objects.filter(sn="NEW-1").exists()


def test_a_face_pay_phone_never_reaches_wechat(client, staff, fake_wechat, groups):
    _, b, device = groups
    errors = form_errors(change_device(client, device, group=b.pk, call_mode=CallMode.FACE_PAY))
    assert list(errors) == ["group"] and fake_wechat.requests == []


def test_devices_show_and_filter_call_mode(client, staff):
    DeviceFactory(school=staff.school, sn="FACE-1", call_mode=CallMode.FACE_PAY)
    DeviceFactory(school=staff.school, sn="HW-1")
    page = client.get(reverse("admin:schools_device_changelist"), {"call_mode__exact": "face_pay"})
    assert list(page.context["cl"].result_list.values_list("sn", flat=True)) == ["FACE-1"]
    assert "call_mode" in page.context["cl"].list_display


# --- the sandbox ----------------------------------------------------------------------------------


def test_the_sandbox_asks_wechat_nothing(client, staff, fake_wechat, settings):
    settings.WECHAT_SANDBOX = True
    assert add_group(client, school=staff.school_id, name="教学楼", model_id="mdl_campusphone_v2").status_code == 302
    group = DeviceGroup.objects.get()
    device = DeviceFactory(school=staff.school)
    assert change_device(client, device, group=group.pk).status_code == 302
    assert Device.objects.get(pk=device.pk).group == group
    assert fake_wechat.requests == []


# --- the group's page: new devices (issue 12 §5) --------------------------------------------------


def add_on_group_page(client, group, **row):
    data = {"capacity": group.capacity, **NO_DEVICES, "devices-2-TOTAL_FORMS": 1, "devices-2-INITIAL_FORMS": 0}
    fields = {"sn": "NEW-1", "model_id": group.model_id, "device_name": "新电话", "location": "三楼", **row}
    data.update({f"devices-2-0-{name}": value for name, value in fields.items()})
    return client.post(reverse("admin:schools_devicegroup_change", args=[group.pk]), data)


def new_device_errors(response) -> dict:
    assert response.status_code == 200, response
    _, new_devices = response.context["inline_admin_formsets"]
    [form] = new_devices.formset.forms
    return form.errors


def test_a_device_added_on_the_groups_page_takes_its_school_and_type_and_joins_at_wechat(
    client, staff, fake_wechat, groups
):
    a, _, _ = groups
    response = add_on_group_page(client, a)
    assert response.status_code == 302, new_device_errors(response)
    device = Device.objects.get(sn="NEW-1")
    assert (device.school, device.group, device.call_mode, device.model_type, device.location) == (
        staff.school,
        a,
        CallMode.HARDWARE,
        a.model_type,
        "三楼",
    )
    assert members(fake_wechat, "grp_a") == {"SN-1", "NEW-1"}
    [audit] = AuditLog.objects.filter(action=AuditLog.Action.DEVICE_GROUP_CHANGED)
    assert audit.data == {"sn": "NEW-1", "from": "", "to": "grp_a"}


def test_a_device_of_another_model_is_an_error_on_its_model_id_and_nothing_is_saved(client, staff, fake_wechat, groups):
    a, _, _ = groups
    response = add_on_group_page(client, a, model_id="mdl_other")
    errors = new_device_errors(response)
    assert list(errors) == ["model_id"] and "校园电话" in errors["model_id"][0]
    assert errors["model_id"][0] in response.content.decode()  # on the page, beside the field
    assert not Device.objects.filter(sn="NEW-1").exists() and group_calls(fake_wechat) == []


def test_wechat_refusing_a_device_added_on_the_groups_page_is_shown_on_its_row(client, staff, fake_wechat, groups):
    a, _, _ = groups
    fake_wechat.group_capacity = 0
    response = add_on_group_page(client, a)
    errors = new_device_errors(response)
    assert list(errors) == ["__all__"] and "9800016" in errors["__all__"][0]
    assert errors["__all__"][0] in response.content.decode()
    assert not Device.objects.filter(sn="NEW-1").exists()
