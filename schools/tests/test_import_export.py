"""Roster import and export in the admin (issue 4 §3), as a staff user of school A."""

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from django.contrib import messages
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import ShareLink
from contacts.tests.factories import ContactFactory
from schools.models import AuditLog, Device, DeviceGroup, StaffMembership, Student
from schools.roster.resources import resource_for
from schools.tests.factories import (
    DeviceFactory,
    DeviceGroupFactory,
    SchoolFactory,
    StaffMembershipFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db

CSV, XLSX = "0", "1"  # indexes of the import and export formats
HEADERS = ["user_id", "name", "grade", "class_name", "student_number", "avatar_url"]


def csv_file(rows, headers=HEADERS, name="roster.csv", encoding="utf-8"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(encoding), content_type="text/csv")


def xlsx_file(rows, headers=HEADERS, name="roster.xlsx"):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def student_row(n, name=None, **overrides):
    row = {
        "user_id": f"wxfp_import_{n:04d}",
        "name": name or f"学生{n}",
        "grade": "三年级",
        "class_name": "三年级2班",
        "student_number": f"2024{n:04d}",
        "avatar_url": "",
    }
    row.update(overrides)
    return [row[h] for h in HEADERS]


@pytest.fixture
def world(client):
    a, b = SchoolFactory(name="甲校"), SchoolFactory(name="乙校")
    staff = StaffMembershipFactory(school=a)
    staff.user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["schools", "contacts"]))
    client.force_login(staff.user)
    return {"a": a, "b": b, "staff": staff, "client": client}


def preview(client, model, upload, fmt=CSV, **data):
    return client.post(
        reverse(f"admin:{model}_import"), {"import_file": upload, "format": fmt, "resource": "0", **data}
    )


def confirm(client, model, response):
    form = response.context["confirm_form"]
    data = {key: "" if value is None else str(value) for key, value in form.initial.items()}
    return client.post(reverse(f"admin:{model}_process_import"), data)


def import_file(client, model, upload, fmt=CSV, **data):
    response = preview(client, model, upload, fmt, **data)
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors(), result.invalid_rows
    done = confirm(client, model, response)
    assert done.status_code == 302, done
    return result


STUDENTS = "schools_student"


def test_preview_shows_the_row_error_and_writes_nothing(world):
    client = world["client"]
    headers = ["用户ID", "姓名", "年级", "班级", "学号"]  # the school's own spreadsheet
    rows = [student_row(1)[:5], student_row(2, name=" ")[:5], student_row(3)[:5]]
    response = preview(client, STUDENTS, csv_file(rows, headers))
    assert response.status_code == 200
    result = response.context["result"]
    assert "confirm_form" not in response.context
    [invalid] = result.invalid_rows
    assert invalid.number == 2 and list(invalid.field_specific_errors) == ["name"]
    assert "wxfp_import_0002" in response.content.decode()  # the row is shown with its error
    assert not Student.objects.exists()

    result = import_file(
        client, STUDENTS, csv_file([student_row(1)[:5], student_row(2)[:5], student_row(3)[:5]], headers)
    )
    assert result.totals["new"] == 3
    assert sorted(Student.objects.filter(school=world["a"]).values_list("name", flat=True)) == [
        "学生1",
        "学生2",
        "学生3",
    ]
    student = Student.objects.get(user_id="wxfp_import_0001")
    assert (student.grade, student.class_name, student.student_number) == ("三年级", "三年级2班", "20240001")


def test_field_errors_are_listed_per_row(world):
    rows = [
        student_row(1, user_id="bad id with spaces"),
        student_row(2, avatar_url="not a url"),
        student_row(3, student_number="20240001"),  # free: row 1, which had it, is invalid
        student_row(4, student_number="20240001"),  # row 3 took it first
        student_row(3, name="重复"),  # user_id given twice
    ]
    result = preview(world["client"], STUDENTS, csv_file(rows)).context["result"]
    errors = {row.number: set(row.field_specific_errors) for row in result.invalid_rows}
    assert errors == {1: {"user_id"}, 2: {"avatar_url"}, 4: {"student_number"}, 5: {"user_id"}}
    assert not Student.objects.exists()


def test_reimport_upserts_without_duplicates(world):
    client = world["client"]
    import_file(client, STUDENTS, csv_file([student_row(n) for n in range(1, 4)]))
    first, second = Student.objects.get(user_id="wxfp_import_0001"), Student.objects.get(user_id="wxfp_import_0002")

    rows = [student_row(1), student_row(2, name="改名"), student_row(3), student_row(4)]
    result = import_file(client, STUDENTS, csv_file(rows))
    assert (result.totals["new"], result.totals["update"], result.totals["skip"]) == (1, 1, 2)
    assert Student.objects.count() == 4
    renamed = Student.objects.get(user_id="wxfp_import_0002")
    assert renamed.name == "改名" and renamed.updated_at > second.updated_at and renamed.created_at == second.created_at
    assert Student.objects.get(user_id="wxfp_import_0001").updated_at == first.updated_at  # unchanged: not written


def test_deactivate_missing_deactivates_only_the_schools_missing_students(world):
    client = world["client"]
    kept = StudentFactory(school=world["a"], user_id="wxfp_import_0001", student_number="20240001")
    graduate = StudentFactory(school=world["a"], student_number="20190001")
    contact = ContactFactory(student=graduate, role=1)
    link = ShareLink.objects.create(
        token_hash="g" * 64, student=graduate, issued_by=contact.parent, expires_at=timezone.now() + timedelta(hours=1)
    )
    other_school = StudentFactory(school=world["b"])

    response = preview(client, STUDENTS, csv_file([student_row(1), student_row(2)]), deactivate_missing="on")
    assert response.context["result"].missing == 1
    [warning] = [str(m) for m in response.context["messages"] if m.level == messages.WARNING]
    assert " 1 " in warning  # "…1 active students … will be deactivated" when you confirm
    graduate.refresh_from_db()
    assert graduate.is_active  # the preview changes nothing

    response = confirm(client, STUDENTS, response)
    assert response.status_code == 302
    for student in (kept, graduate, other_school):
        student.refresh_from_db()
    assert kept.is_active and other_school.is_active
    assert not graduate.is_active
    link.refresh_from_db()
    assert link.state == ShareLink.State.REVOKED
    audit = AuditLog.objects.get(student=graduate)
    assert audit.action == AuditLog.Action.STAFF_STUDENT_DEACTIVATED and audit.actor_user == world["staff"].user
    assert Student.objects.get(user_id="wxfp_import_0002").is_active


def test_without_the_option_missing_students_stay_active(world):
    other = StudentFactory(school=world["a"], student_number="20190001")
    import_file(world["client"], STUDENTS, csv_file([student_row(1)]))
    other.refresh_from_db()
    assert other.is_active


def test_a_user_id_of_another_school_is_a_row_error(world):
    theirs = StudentFactory(school=world["b"], user_id="wxfp_import_0002", name="乙校学生")
    response = preview(world["client"], STUDENTS, csv_file([student_row(1), student_row(2, name="抢过来")]))
    [invalid] = response.context["result"].invalid_rows
    assert invalid.number == 2 and "user_id" in invalid.field_specific_errors
    theirs.refresh_from_db()
    assert (theirs.name, theirs.school) == ("乙校学生", world["b"])
    assert not Student.objects.filter(school=world["a"]).exists()


def test_xlsx_imports_too(world):
    rows = [student_row(1), student_row(2)]
    rows[0][4] = 20240001  # a number cell, as a spreadsheet stores it
    import_file(world["client"], STUDENTS, xlsx_file(rows), fmt=XLSX)
    assert Student.objects.get(user_id="wxfp_import_0001").student_number == "20240001"
    assert Student.objects.filter(school=world["a"]).count() == 2


def test_empty_rows_at_the_end_of_a_spreadsheet_are_ignored(world):
    result = import_file(world["client"], STUDENTS, xlsx_file([student_row(1), [None] * 6, [""] * 6]), fmt=XLSX)
    assert result.total_rows == 1 and Student.objects.count() == 1


def test_csv_saved_by_excel_on_chinese_windows_imports(world):
    import_file(world["client"], STUDENTS, csv_file([student_row(1, name="欧阳子涵")], encoding="gb18030"))
    assert Student.objects.get().name == "欧阳子涵"


def export(client, model, fmt=CSV):
    """POST the admin's export form with every column ticked."""
    resource = resource_for(
        {"schools_student": "students", "schools_device": "devices", "schools_devicegroup": "groups"}[model]
    )
    fields = {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    data = {"format": fmt, "resource": "0", **fields}
    response = client.post(reverse(f"admin:{model}_export"), data)
    assert response.status_code == 200, response.content[:500]
    return response


def test_export_has_the_columns_the_contacts_and_escapes_formulae(world):
    mine = StudentFactory(school=world["a"], name='=HYPERLINK("http://evil.example","点我")', student_number="-1")
    ContactFactory(student=mine, role=1)
    ContactFactory(student=mine)
    StudentFactory(school=world["a"], name="王子涵")
    StudentFactory(school=world["b"], name="乙校学生")

    content = export(world["client"], STUDENTS).content
    assert content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the UTF-8
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert list(rows[0]) == [*HEADERS, "contacts"]
    by_name = {row["name"]: row for row in rows}
    assert "乙校学生" not in by_name
    assert by_name["王子涵"]["contacts"] == "0"
    [evil] = [row for row in rows if row["user_id"] == mine.user_id]
    assert evil["contacts"] == "2"
    assert evil["name"] == "'" + mine.name and evil["student_number"] == "'-1"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())

    book = openpyxl.load_workbook(io.BytesIO(export(world["client"], STUDENTS, fmt=XLSX).content))
    cells = [cell for row in book.active.iter_rows() for cell in row]
    assert not any(cell.data_type == "f" for cell in cells)
    assert "'" + mine.name in [cell.value for cell in cells]


def test_an_exported_file_imports_back_unchanged(world):
    StudentFactory(school=world["a"], name="=1+1", student_number="-7")
    content = export(world["client"], STUDENTS).content
    result = preview(world["client"], STUDENTS, SimpleUploadedFile("export.csv", content)).context["result"]
    assert result.totals["skip"] == 1 and not result.has_validation_errors()


def test_export_queries_do_not_grow_with_the_students(world):
    def queries(n):
        Student.objects.all().delete()
        for student in StudentFactory.create_batch(n, school=world["a"]):
            ContactFactory(student=student)
        with CaptureQueriesContext(connection) as ctx:
            response = export(world["client"], STUDENTS)
        assert response.content.decode("utf-8-sig").count("\n") == n + 1
        return len(ctx.captured_queries)

    assert queries(20) == queries(200)


def test_read_only_viewer_may_export_but_not_import(world):
    world["staff"].role = StaffMembership.Role.VIEWER
    world["staff"].save()
    client = world["client"]
    assert client.get(reverse("admin:schools_student_import")).status_code == 403
    assert preview(client, STUDENTS, csv_file([student_row(1)])).status_code == 403
    assert export(client, STUDENTS).status_code == 200
    assert not Student.objects.exists()


def test_superuser_chooses_the_school(client, world):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = preview(client, STUDENTS, csv_file([student_row(1)]))
    assert "school" in response.context["form"].errors  # required for superusers
    response = preview(client, STUDENTS, csv_file([student_row(1)]), school=world["b"].pk)
    confirm(client, STUDENTS, response)
    assert Student.objects.get().school == world["b"]


def test_staff_cannot_import_into_another_school_by_posting_one(world):
    response = preview(world["client"], STUDENTS, csv_file([student_row(1)]), school=world["b"].pk)
    data = {k: "" if v is None else str(v) for k, v in response.context["confirm_form"].initial.items()}
    data["school"] = str(world["b"].pk)
    world["client"].post(reverse("admin:schools_student_process_import"), data)
    assert Student.objects.get().school == world["a"]


# --------------------------------------------------------------------------- devices and groups


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
    from schools.demo.loader import DEMO_DIR

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
