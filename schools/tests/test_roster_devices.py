"""Roster import and export of device groups and devices in the admin (issue 4 §3), as staff of school A."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from schools.demo.loader import DEMO_DIR
from schools.models import Device, DeviceGroup
from schools.tests.factories import DeviceFactory, DeviceGroupFactory
from schools.tests.roster import csv_file, export, import_file, preview, roster_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client):
    return roster_world(client)


def test_groups_then_devices_import_with_the_device_rules(world):
    client = world["client"]
    groups = [["grp_a_teach", "教学楼", "校园电话"], ["grp_a_dorm", "宿舍楼", "宿舍电话"]]
    import_file(client, "schools_devicegroup", csv_file(groups, ["group_id", "group_name", "model_type"]))
    assert DeviceGroup.objects.filter(school=world["a"]).count() == 2
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


def test_a_group_name_is_fixed_once_created(world):
    DeviceGroupFactory(school=world["a"], group_id="grp_a", name="教学楼", model_type="校园电话")
    rows = [["grp_a", "新名字", "校园电话"], ["grp_new", "新楼", "校园电话"]]
    result = preview(
        world["client"], "schools_devicegroup", csv_file(rows, ["group_id", "name", "model_type"])
    ).context["result"]
    [invalid] = result.invalid_rows
    assert invalid.number == 1 and list(invalid.field_specific_errors) == ["name"]


def test_demo_devices_file_imports(world):
    data = (DEMO_DIR / "devices.csv").read_bytes()
    import_file(world["client"], "schools_devicegroup", SimpleUploadedFile("devices.csv", _groups_of(data)))
    import_file(world["client"], "schools_device", SimpleUploadedFile("devices.csv", data))
    assert Device.objects.filter(school=world["a"]).count() == 26
    assert Device.objects.filter(school=world["a"], group__isnull=False).count() == 24


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
