"""Device groups through WeChat (``schools.services.device_groups``; REFERENCE.md §1, §5), against the
fake WeChat: each group API (createid, adddevice, removedevice, getinfo), each refusal (9800012-9800017)
as an ``ApplicationError`` naming its field with nothing saved, reconciling, and the sandbox."""

import pytest

from core.errors import ApplicationError, UpstreamUnavailable
from core.wechat.client import WeChatClient
from core.wechat.errcodes import ErrCode
from schools.models import AuditLog, CallMode, Device, DeviceGroup
from schools.services.device_groups import (
    device_group_create,
    device_group_import,
    device_group_reconcile,
    device_group_set,
    device_groups_reconcile_all,
    device_membership_change,
)
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory
from schools.tests.wechat_groups import group_calls, members, wechat_group, wechat_refuses

pytestmark = pytest.mark.django_db


@pytest.fixture
def school():
    return SchoolFactory()


@pytest.fixture
def group(school, fake_wechat):
    """A group of ``school``, at WeChat too, empty."""
    wechat_group(fake_wechat, "grp_a")
    return DeviceGroupFactory(school=school, group_id="grp_a")


def audit(action) -> list[dict]:
    return list(AuditLog.objects.filter(action=action).order_by("pk").values_list("data", flat=True))


# --- createid -------------------------------------------------------------------------------------


def test_create_asks_wechat_for_the_group_id(school, fake_wechat):
    group = device_group_create(
        school=school, name="实验小学教学楼", model_id="mdl_campusphone_v2", model_type="校园电话", capacity=50
    )
    assert group_calls(fake_wechat) == ["createid"]
    assert group.group_id == "grp_fake_0001" and group.checked_at is not None
    assert fake_wechat.groups["grp_fake_0001"]["group_name"] == "实验小学教学楼"
    assert audit(AuditLog.Action.DEVICE_GROUP_CREATED) == [{"group_id": "grp_fake_0001"}]


def test_a_name_over_32_bytes_is_refused_before_wechat(school, fake_wechat):
    with pytest.raises(ApplicationError) as refused:
        device_group_create(school=school, name="教" * 11, model_id="m", model_type="校园电话", capacity=50)
    assert refused.value.field == "name"
    assert group_calls(fake_wechat) == [] and not DeviceGroup.objects.exists()


def test_9800012_wechat_refuses_the_name(school, fake_wechat):
    wechat_refuses(fake_wechat, ErrCode.GROUP_NAME_INVALID)
    with pytest.raises(ApplicationError) as refused:
        device_group_create(school=school, name="教学楼", model_id="m", model_type="校园电话", capacity=50)
    assert (refused.value.field, refused.value.errcode) == ("name", ErrCode.GROUP_NAME_INVALID)
    assert not DeviceGroup.objects.exists() and not AuditLog.objects.exists()


def test_wechat_unreachable_saves_nothing(school):
    with pytest.raises(UpstreamUnavailable):  # the test settings point at a closed port
        device_group_create(school=school, name="教学楼", model_id="m", model_type="校园电话", capacity=50)
    assert not DeviceGroup.objects.exists()


# --- getinfo: import by group_id ------------------------------------------------------------------


def test_import_takes_wechats_name_and_model_and_reads_the_membership(school, fake_wechat):
    listed = DeviceFactory(school=school, sn="IN-1")
    DeviceFactory(school=school, sn="FACE-1", call_mode=CallMode.FACE_PAY)
    wechat_group(
        fake_wechat, "grp_made_elsewhere", "宿舍楼", devices=[listed, ("FACE-1", "mdl_campusphone_v2"), ("X-9", "x")]
    )

    group = device_group_import(school=school, group_id="grp_made_elsewhere", model_type="校园电话", capacity=200)

    assert (group.name, group.model_id, group.capacity) == ("宿舍楼", "mdl_campusphone_v2", 200)
    assert group_calls(fake_wechat) == ["getinfo", "getinfo"]  # checked, then reconciled
    assert list(group.devices.values_list("sn", flat=True)) == ["IN-1"]  # a face-pay phone never joins
    [reconciled] = audit(AuditLog.Action.DEVICE_GROUP_RECONCILED)
    assert reconciled["added"] == ["IN-1"] and sorted(reconciled["unknown"]) == ["FACE-1", "X-9"]


def test_9800013_import_of_a_group_wechat_does_not_know(school, fake_wechat):
    with pytest.raises(ApplicationError) as refused:
        device_group_import(school=school, group_id="grp_nowhere", model_type="校园电话")
    assert (refused.value.field, refused.value.errcode) == ("group", ErrCode.GROUP_ID_INVALID)
    assert not DeviceGroup.objects.exists() and not AuditLog.objects.exists()


def test_import_of_a_group_already_in_the_portal(group, fake_wechat):
    with pytest.raises(ApplicationError) as refused:
        device_group_import(school=SchoolFactory(), group_id="grp_a", model_type="校园电话")
    assert refused.value.field == "group_id" and group_calls(fake_wechat) == []


# --- adddevice / removedevice ---------------------------------------------------------------------


def test_set_adds_moves_and_removes_at_wechat_then_here_audited_once(school, group, fake_wechat):
    other = DeviceGroupFactory(school=school, group_id="grp_b")
    wechat_group(fake_wechat, "grp_b")
    device = DeviceFactory(school=school, sn="SN-1")

    device_group_set(device=device, group=group)
    assert members(fake_wechat, "grp_a") == {"SN-1"}
    device_group_set(device=device, group=other)
    assert members(fake_wechat, "grp_a") == set() and members(fake_wechat, "grp_b") == {"SN-1"}
    device_group_set(device=device, group=None)
    assert members(fake_wechat, "grp_b") == set()

    assert group_calls(fake_wechat) == ["adddevice", "removedevice", "adddevice", "removedevice"]
    device.refresh_from_db()
    assert device.group is None
    assert audit(AuditLog.Action.DEVICE_GROUP_CHANGED) == [
        {"sn": "SN-1", "from": "", "to": "grp_a"},
        {"sn": "SN-1", "from": "grp_a", "to": "grp_b"},
        {"sn": "SN-1", "from": "grp_b", "to": ""},
    ]


def test_a_new_device_put_in_a_group_is_added_at_wechat(school, group, fake_wechat):
    device = Device(school=school, sn="NEW-1", model_id="mdl_campusphone_v2", device_name="新电话")
    device_group_set(device=device, group=group)
    assert device.pk and members(fake_wechat, "grp_a") == {"NEW-1"}


def test_the_portals_own_rules_refuse_before_wechat(school, group, fake_wechat):
    face_pay = DeviceFactory(school=school, call_mode=CallMode.FACE_PAY)
    with pytest.raises(ApplicationError) as refused:
        device_group_set(device=face_pay, group=group)
    assert refused.value.field == "group" and group_calls(fake_wechat) == []


@pytest.mark.parametrize(
    ("errcode", "arrange"),
    [
        (ErrCode.GROUP_ID_INVALID, lambda fake: fake.groups.pop("grp_a")),  # deleted at WeChat
        (ErrCode.GROUP_TYPE_MISMATCH, lambda fake: fake.groups["grp_a"].update(model_id="mdl_other")),
        (
            ErrCode.GROUP_DEVICE_IN_ANOTHER,
            lambda fake: wechat_group(fake, "grp_x", devices=[("SN-1", "mdl_campusphone_v2")]),
        ),
        (ErrCode.GROUP_FULL, lambda fake: setattr(fake, "group_capacity", 0)),
    ],
)
def test_wechat_refuses_adddevice_and_nothing_is_saved(school, group, fake_wechat, errcode, arrange):
    device = DeviceFactory(school=school, sn="SN-1")
    arrange(fake_wechat)
    with pytest.raises(ApplicationError) as refused:
        device_group_set(device=device, group=group)
    assert (refused.value.field, refused.value.errcode, refused.value.group_id) == ("group", errcode, "grp_a")
    assert Device.objects.get(pk=device.pk).group is None
    assert not AuditLog.objects.exists()


def test_9800017_wechat_refuses_removedevice_and_nothing_is_saved(school, group, fake_wechat):
    device = DeviceFactory(school=school, group=group)  # the portal thinks it is in; WeChat does not list it
    with pytest.raises(ApplicationError) as refused:
        device_group_set(device=device, group=None)
    assert (refused.value.field, refused.value.errcode) == ("group", ErrCode.GROUP_DEVICE_NOT_IN)
    assert Device.objects.get(pk=device.pk).group == group and not AuditLog.objects.exists()


def test_membership_change_removes_first_then_adds_one_call_per_group(school, group, fake_wechat):
    """A swap between two full groups works: the removals make room first."""
    other = DeviceGroupFactory(school=school, group_id="grp_b")
    one, two = DeviceFactory(school=school, sn="ONE", group=group), DeviceFactory(school=school, sn="TWO", group=other)
    fake_wechat.groups["grp_a"]["devices"] = [("ONE", one.model_id)]
    wechat_group(fake_wechat, "grp_b", devices=[two])
    fake_wechat.group_capacity = 1
    device_membership_change(changes=[(one, group, other), (two, other, group)])
    assert group_calls(fake_wechat) == ["removedevice", "removedevice", "adddevice", "adddevice"]
    assert members(fake_wechat, "grp_a") == {"TWO"} and members(fake_wechat, "grp_b") == {"ONE"}


# --- getinfo: reconcile ---------------------------------------------------------------------------


def test_reconcile_follows_wechat_added_removed_unknown(school, group, fake_wechat):
    kept = DeviceFactory(school=school, sn="KEPT", group=group)
    gone = DeviceFactory(school=school, sn="GONE", group=group)
    joined = DeviceFactory(school=school, sn="JOINED")
    elsewhere = DeviceFactory(sn="OTHER-SCHOOL")
    wechat_group(fake_wechat, "grp_a", "WeChat的名字", devices=[kept, joined, elsewhere])

    result = device_group_reconcile(group=group)

    assert result == {"added": ["JOINED"], "removed": ["GONE"], "unknown": ["OTHER-SCHOOL"]}
    assert set(group.devices.values_list("sn", flat=True)) == {"KEPT", "JOINED"}
    gone.refresh_from_db()
    assert gone.group is None
    group.refresh_from_db()
    assert group.name == "WeChat的名字" and group.checked_at is not None
    [row] = audit(AuditLog.Action.DEVICE_GROUP_RECONCILED)
    assert row == {"group_id": "grp_a", **result}
    assert device_group_reconcile(group=group) == {"added": [], "removed": [], "unknown": ["OTHER-SCHOOL"]}


def test_reconcile_all_goes_past_a_group_wechat_refuses(school, fake_wechat, caplog):
    deleted = DeviceGroupFactory(school=school, group_id="grp_deleted_at_wechat")  # never checked: first
    fine = DeviceGroupFactory(school=school, group_id="grp_fine")
    device = DeviceFactory(school=school, sn="SN-1")
    wechat_group(fake_wechat, "grp_fine", devices=[device])

    assert device_groups_reconcile_all() == 1

    device.refresh_from_db()
    assert device.group == fine
    deleted.refresh_from_db()
    assert deleted.checked_at is not None  # asked: it goes last next time
    assert "grp_deleted_at_wechat" in caplog.text and "9800013" in caplog.text
    assert device_groups_reconcile_all() == 1  # and it does not stop the next runs either


def test_reconcile_all_stops_while_wechat_is_unreachable(school, fake_wechat):
    groups = [DeviceGroupFactory(school=school, group_id=f"grp_{n}") for n in range(3)]
    for group in groups:
        wechat_group(fake_wechat, group.group_id)
    WeChatClient.from_settings().access_token()
    fake_wechat.raw_answer = (503, b"busy")
    assert device_groups_reconcile_all() == 0
    assert group_calls(fake_wechat) == ["getinfo"]  # the first, not every group
    assert not DeviceGroup.objects.filter(checked_at__isnull=False).exists()


# --- the sandbox ----------------------------------------------------------------------------------


def test_the_sandbox_asks_wechat_nothing(school, settings, fake_wechat):
    settings.WECHAT_SANDBOX = True
    group = device_group_create(school=school, name="教学楼", model_id="m", model_type="校园电话", capacity=50)
    imported = device_group_import(school=school, group_id="grp_local", model_type="校园电话")
    device = DeviceFactory(school=school, model_id="m")
    device_group_set(device=device, group=group)
    device_group_set(device=device, group=None)
    assert device_group_reconcile(group=imported) == {"added": [], "removed": [], "unknown": []}
    assert device_groups_reconcile_all() == 2
    assert group.group_id.startswith("sandbox_") and imported.name == "grp_local"
    assert fake_wechat.requests == []
