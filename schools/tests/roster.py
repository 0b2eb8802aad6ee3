"""Helpers of the roster import and export tests (``schools.roster``): files, the admin's import steps."""

import csv
import io

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from schools.roster.resources import resource_for
from schools.tests.factories import SchoolFactory, StaffMembershipFactory

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


def roster_world(client):
    """Schools A and B, and a logged-in staff user of A with every schools and contacts permission."""
    a, b = SchoolFactory(name="甲校"), SchoolFactory(name="乙校")
    staff = StaffMembershipFactory(school=a, permissions=["schools", "contacts"])
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
