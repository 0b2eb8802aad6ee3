"""Roster import and export of device groups and devices in the admin (issue 4 §3), as staff of school A.

Groups live at WeChat (the fake WeChat here): a groups file takes groups WeChat has, a devices file
moves the phones at WeChat before it is written (REFERENCE.md §5).
"""

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from schools.demo.loader import DEMO_DIR
from schools.models import AuditLog, CallMode, Device, DeviceGroup, ImportJob
from schools.roster.jobs import import_job_create
from schools.roster.runner import import_job_run
from schools.tests.factories import DeviceFactory, DeviceGroupFactory
from schools.tests.roster import confirm, csv_file, export, import_file, preview, roster_world
from schools.tests.wechat_groups import group_calls, members, wechat_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client, fake_wechat):
    return {**roster_world(client), "wechat": fake_wechat}


def test_groups_then_devices_import_with_the_device_rules(world):
    client, wechat = world["client"], world["wechat"]
    wechat_group(wechat, "grp_a_teach", "教学楼", model_id="mdl")
    wechat_group(wechat, "grp_a_dorm", "宿舍楼", model_id="mdl")
    groups = [["grp_a_teach", "教学楼", "校园电话"], ["grp_a_dorm", "宿舍楼", "宿舍电话"]]
    import_file(client, "schools_devicegroup", csv_file(groups, ["group_id", "group_name", "model_type"]))
    assert DeviceGroup.objects.filter(school=world["a"]).count() == 2
    assert DeviceGroup.objects.get(group_id="grp_a_teach").model_id == "mdl"  # WeChat's
    DeviceGroup.objects.filter(group_id="grp_a_teach").update(capacity=2)
    DeviceGroupFactory(school=world["b"], group_id="grp_b")
    DeviceFactory(school=world["b"], sn="B-0001")

    headers = ["sn", "model_id", "device_name", "model_type", "group_id", "location"]
    rows = [
        ["A-0001", "mdl", "一楼东", "校园电话", "grp_a_teach", "一层"],
        ["A 0002", "mdl", "一楼西", "校园电话", "", ""],  # sn with a space
        ["A-0003", "mdl", "这个名字有十四个字符长度超过十三", "校园电话", "", ""],
        ["A-0004", "mdl", "二楼", "校园电话", "grp_a_dorm", ""],  # wrong type
        ["A-0005", "mdl", "三楼", "校园电话", "grp_b", ""],  # another school's group
        ["A-0006", "mdl", "四楼", "校园电话", "grp_a_teach", ""],
        ["A-0007", "mdl", "五楼", "校园电话", "grp_a_teach", ""],  # the group's third: full
        ["B-0001", "mdl_campusphone_v2", "抢", "校园电话", "", ""],  # another school's device
    ]
    result = preview(client, "schools_device", csv_file(rows, headers)).context["result"]
    errors = {row.number: set(row.field_specific_errors) for row in result.invalid_rows}
    assert errors == {2: {"sn"}, 3: {"device_name"}, 4: {"group"}, 5: {"group"}, 7: {"group"}, 8: {"sn"}}
    assert not Device.objects.filter(school=world["a"]).exists()

    import_file(client, "schools_device", csv_file([rows[0], rows[5]], headers))
    assert set(Device.objects.filter(group__group_id="grp_a_teach").values_list("sn", flat=True)) == {
        "A-0001",
        "A-0006",
    }
    assert members(wechat, "grp_a_teach") == {"A-0001", "A-0006"}
    # Moving one device out makes room for another, within one file.
    rows = [
        ["A-0001", "mdl", "一楼东", "校园电话", "", "一层"],
        ["A-0007", "mdl", "五楼", "校园电话", "grp_a_teach", ""],
    ]
    import_file(client, "schools_device", csv_file(rows, headers))
    assert set(Device.objects.filter(group__group_id="grp_a_teach").values_list("sn", flat=True)) == {
        "A-0006",
        "A-0007",
    }
    assert members(wechat, "grp_a_teach") == {"A-0006", "A-0007"}


def test_a_group_name_is_fixed_once_created(world):
    DeviceGroupFactory(school=world["a"], group_id="grp_a", name="教学楼", model_type="校园电话")
    wechat_group(world["wechat"], "grp_new", "新楼")
    rows = [["grp_a", "新名字", "校园电话"], ["grp_new", "新楼", "校园电话"]]
    result = preview(
        world["client"], "schools_devicegroup", csv_file(rows, ["group_id", "name", "model_type"])
    ).context["result"]
    [invalid] = result.invalid_rows
    assert invalid.number == 1 and list(invalid.field_specific_errors) == ["name"]


def test_demo_devices_file_imports(world):
    data = (DEMO_DIR / "devices.csv").read_bytes()
    for row in csv.DictReader(io.StringIO(data.decode())):
        if row["group_id"]:
            wechat_group(world["wechat"], row["group_id"], row["group_name"], row["model_id"])
    import_file(world["client"], "schools_devicegroup", SimpleUploadedFile("devices.csv", _groups_of(data)))
    import_file(world["client"], "schools_device", SimpleUploadedFile("devices.csv", data))
    assert Device.objects.filter(school=world["a"]).count() == 26
    assert Device.objects.filter(school=world["a"], group__isnull=False).count() == 24
    modes = [r.get("call_mode") or CallMode.HARDWARE for r in csv.DictReader(io.StringIO(data.decode()))]
    assert sorted(Device.objects.values_list("call_mode", flat=True)) == sorted(modes)
    assert sum(len(g["devices"]) for g in world["wechat"].groups.values()) == 24  # added at WeChat too


def _groups_of(devices_csv: bytes) -> bytes:
    rows = list(csv.DictReader(io.StringIO(devices_csv.decode())))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["group_id", "group_name", "model_type"])
    for group_id in dict.fromkeys(r["group_id"] for r in rows if r["group_id"]):
        row = next(r for r in rows if r["group_id"] == group_id)
        writer.writerow([group_id, row["group_name"], row["model_type"]])
    return out.getvalue().encode()


def test_device_export_scoped_with_group_ids(world):
    group = DeviceGroupFactory(school=world["a"], group_id="grp_export")
    DeviceFactory(school=world["a"], group=group, sn="EXP-1", location="@操场")
    DeviceFactory(school=world["b"], sn="OTHER-1")
    rows = list(csv.DictReader(io.StringIO(export(world["client"], "schools_device").content.decode("utf-8-sig"))))
    assert [(r["sn"], r["group"], r["location"]) for r in rows] == [("EXP-1", "grp_export", "'@操场")]


# --- call_mode ------------------------------------------------------------------------------------

DEVICE_HEADERS = ["序列号", "型号ID", "设备名称", "设备类型", "模式", "设备组ID"]


def test_call_mode_column_in_english_or_chinese_hardware_by_default(world):
    DeviceGroupFactory(school=world["a"], group_id="grp_a")
    wechat_group(world["wechat"], "grp_a")
    rows = [
        ["FACE-1", "mdl_campusphone_v2", "食堂", "校园电话", "刷脸", ""],
        ["FACE-2", "mdl_campusphone_v2", "操场", "校园电话", "face_pay", ""],
        ["HW-1", "mdl_campusphone_v2", "一楼", "校园电话", "硬件", "grp_a"],
        ["HW-2", "mdl_campusphone_v2", "二楼", "校园电话", "", ""],
    ]
    import_file(world["client"], "schools_device", csv_file(rows, DEVICE_HEADERS))
    assert dict(Device.objects.values_list("sn", "call_mode")) == {
        "FACE-1": CallMode.FACE_PAY,
        "FACE-2": CallMode.FACE_PAY,
        "HW-1": CallMode.HARDWARE,
        "HW-2": CallMode.HARDWARE,
    }
    assert members(world["wechat"], "grp_a") == {"HW-1"}
    exported = export(world["client"], "schools_device").content.decode("utf-8-sig")
    assert "call_mode" in exported.splitlines()[0] and "face_pay" in exported


def test_a_face_pay_phone_in_a_group_or_an_unknown_mode_is_a_row_error(world):
    DeviceGroupFactory(school=world["a"], group_id="grp_a")
    rows = [
        ["FACE-1", "mdl_campusphone_v2", "食堂", "校园电话", "刷脸", "grp_a"],
        ["ODD-1", "mdl_campusphone_v2", "操场", "校园电话", "视频", ""],
    ]
    result = preview(world["client"], "schools_device", csv_file(rows, DEVICE_HEADERS)).context["result"]
    errors = {row.number: set(row.field_specific_errors) for row in result.invalid_rows}
    assert errors == {1: {"group"}, 2: {"call_mode"}}
    assert not Device.objects.exists() and world["wechat"].requests == []


# --- the devices file moves phones at WeChat ------------------------------------------------------


def test_a_devices_file_that_wechat_refuses_imports_nothing(world):
    a = DeviceGroupFactory(school=world["a"], group_id="grp_a")
    DeviceGroupFactory(school=world["a"], group_id="grp_b")
    device = DeviceFactory(school=world["a"], sn="SN-1", group=a)
    wechat_group(world["wechat"], "grp_a", devices=[device])
    wechat_group(world["wechat"], "grp_b")
    world["wechat"].group_capacity = 0  # WeChat's grp_b is full; the portal's is not
    rows = [
        ["SN-1", "mdl_campusphone_v2", "一楼", "校园电话", "", "grp_b"],
        ["NEW-1", "mdl_campusphone_v2", "新的", "校园电话", "", ""],
    ]
    response = preview(world["client"], "schools_device", csv_file(rows, DEVICE_HEADERS))
    assert not response.context["result"].has_validation_errors() and world["wechat"].requests == []  # a dry run

    done = confirm(world["client"], "schools_device", response)

    assert done.status_code == 302
    [message] = [str(m) for m in get_messages(done.wsgi_request)]
    assert "grp_b" in message and "9800016" in message
    device.refresh_from_db()
    assert device.group == a and not Device.objects.filter(sn="NEW-1").exists()
    assert group_calls(world["wechat"]) == ["removedevice", "adddevice"]  # WeChat is ahead until reconciled


def test_a_background_devices_job_that_wechat_refuses_fails_with_the_reason(world):
    DeviceGroupFactory(school=world["a"], group_id="grp_a")  # deleted at WeChat: not in the fake
    upload = csv_file([["SN-1", "mdl_campusphone_v2", "一楼", "校园电话", "", "grp_a"]], DEVICE_HEADERS)
    job = import_job_create(
        school=world["a"], kind="devices", file_name=upload.name, file_format="csv", data=upload.read()
    )

    assert import_job_run(job.pk) == ImportJob.Status.FAILED

    job.refresh_from_db()
    [error] = job.errors
    assert "grp_a" in error["error"] and "9800013" in error["error"]
    assert not Device.objects.exists()


# --- the groups file takes groups WeChat has ------------------------------------------------------


def test_a_groups_file_is_checked_at_wechat(world):
    wechat_group(world["wechat"], "grp_known", "实验小学教学楼")
    rows = [
        ["grp_known", "", "校园电话"],  # WeChat's name is taken
        ["grp_unknown", "某楼", "校园电话"],  # 9800013
        ["", "新楼", "校园电话"],  # groups are created in the admin
    ]
    headers = ["group_id", "name", "model_type"]
    result = preview(world["client"], "schools_devicegroup", csv_file(rows, headers)).context["result"]
    errors = {row.number: row.field_specific_errors for row in result.invalid_rows}
    assert list(errors) == [2, 3] and list(errors[2]) == ["group_id"] and list(errors[3]) == ["group_id"]
    assert "9800013" in str(errors[2]["group_id"][0])

    import_file(world["client"], "schools_devicegroup", csv_file(rows[:1], headers))
    group = DeviceGroup.objects.get()
    assert (group.school, group.name, group.model_id) == (world["a"], "实验小学教学楼", "mdl_campusphone_v2")
    assert group_calls(world["wechat"]) == ["getinfo"] * 4  # preview (2 new rows), preview, confirm


def test_a_groups_file_with_another_name_than_wechats_is_refused(world):
    wechat_group(world["wechat"], "grp_known", "实验小学教学楼")
    result = preview(
        world["client"],
        "schools_devicegroup",
        csv_file([["grp_known", "别的名字", "校园电话"]], ["group_id", "name", "model_type"]),
    ).context["result"]
    [invalid] = result.invalid_rows
    assert list(invalid.field_specific_errors) == ["name"]


# --- the sandbox ----------------------------------------------------------------------------------


def test_the_sandbox_imports_groups_and_devices_without_wechat(world, settings):
    settings.WECHAT_SANDBOX = True
    import_file(
        world["client"],
        "schools_devicegroup",
        csv_file([["grp_local", "教学楼", "校园电话"]], ["group_id", "name", "model_type"]),
    )
    rows = [["SN-1", "mdl_campusphone_v2", "一楼", "校园电话", "", "grp_local"]]
    import_file(world["client"], "schools_device", csv_file(rows, DEVICE_HEADERS))
    assert Device.objects.get().group.group_id == "grp_local"
    assert world["wechat"].requests == [] and not AuditLog.objects.exists()
