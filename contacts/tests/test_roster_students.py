"""Roster import and export of students in the admin (issue 4 §3, ``contacts.resources``), as staff of school A."""

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import ShareLink
from contacts.tests.factories import ContactFactory
from schools.models import AuditLog, StaffMembership, Student
from schools.tests.factories import StudentFactory
from schools.tests.roster import (
    HEADERS,
    XLSX,
    confirm,
    csv_file,
    export,
    import_file,
    preview,
    roster_world,
    student_row,
    xlsx_file,
)

pytestmark = pytest.mark.django_db


STUDENTS = "schools_student"


@pytest.fixture
def world(client):
    return roster_world(client)


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
    # The initials follow the name through the bulk writes (which skip Student.save()).
    assert (first.name_initials, renamed.name_initials) == ("xs", "gm")
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


def test_a_user_id_of_another_school_is_a_row_error_that_reveals_nothing(world):
    theirs = StudentFactory(school=world["b"], user_id="wxfp_import_0002", name="乙校学生")
    response = preview(world["client"], STUDENTS, csv_file([student_row(1), student_row(2, name="抢过来")]))
    [invalid] = response.context["result"].invalid_rows
    assert invalid.number == 2 and "user_id" in invalid.field_specific_errors
    # The error does not tell school A that the id is a student elsewhere, nor whose.
    page = response.content.decode()
    assert "another school" not in page and "其他学校" not in page and "乙校" not in page
    assert "请与平台运营方核对" in page
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


def test_export_lists_grades_and_classes_in_school_order(world):
    classes = ["六年级1班", "二年级10班", "一年级2班", "二年级2班", "三年级1班", "五年级1班", "四年级1班"]
    for n, class_name in enumerate(classes):
        StudentFactory(school=world["a"], grade=class_name[:3], class_name=class_name, student_number=f"S{n}")
    rows = list(csv.DictReader(io.StringIO(export(world["client"], STUDENTS).content.decode("utf-8-sig"))))
    assert [row["class_name"] for row in rows] == [
        "一年级2班",
        "二年级2班",
        "二年级10班",
        "三年级1班",
        "四年级1班",
        "五年级1班",
        "六年级1班",
    ]
