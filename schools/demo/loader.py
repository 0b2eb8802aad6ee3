"""Loads the demo school from the roster files shipped beside this module.

``students.csv`` (1,200 students, 30 classes) and ``devices.csv`` (26 campus phones: 24
hardware-mode phones in 2 groups, 2 face-pay phones)
were made by ``generate_roster.py``. Loading is an upsert, so running it again changes nothing.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction

from schools.models import ApiClient, Device, DeviceGroup, School, StaffMembership, Student
from schools.pinyin import name_initials
from schools.services.api_clients import api_client_grant, api_client_issue_secret

DEMO_DIR = Path(__file__).resolve().parent
DEMO_SCHOOL_CODE = "hdsy"
DEMO_SCHOOL_NAME = "北京市海淀区实验小学"
DEMO_STAFF_USERNAME = "demo-admin"
DEMO_API_APPID = "wxdemovendor00001"


@dataclass
class DemoSummary:
    school: School
    students: int
    devices: int
    groups: int
    staff_username: str
    staff_password: str
    api_appid: str
    api_secret: str


def _rows(name: str) -> list[dict]:
    with open(DEMO_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@transaction.atomic
def demo_school_load(*, staff_password: str) -> DemoSummary:
    """Upsert the demo school, its roster and devices, a staff login and a vendor API client."""
    # First-come admin binding, so that the README's curl session binds without a printed letter;
    # new schools require claim codes (School.require_claim_code).
    school, _ = School.objects.update_or_create(
        code=DEMO_SCHOOL_CODE, defaults={"name": DEMO_SCHOOL_NAME, "require_claim_code": False}
    )

    devices = _rows("devices.csv")
    groups = {}
    for row in devices:
        if row["group_id"] and row["group_id"] not in groups:
            groups[row["group_id"]], _ = DeviceGroup.objects.update_or_create(
                group_id=row["group_id"],
                defaults={
                    "school": school,
                    "name": row["group_name"],
                    "model_id": row["model_id"],
                    "model_type": row["model_type"],
                },
            )
    Device.objects.bulk_create(
        [
            Device(
                school=school,
                group=groups.get(row["group_id"]),
                sn=row["sn"],
                model_id=row["model_id"],
                device_name=row["device_name"],
                model_type=row["model_type"],
                location=row["location"],
                call_mode=row["call_mode"],
            )
            for row in devices
        ],
        update_conflicts=True,
        unique_fields=["sn", "model_id"],
        update_fields=["school", "group", "device_name", "model_type", "location", "call_mode"],
    )

    students = _rows("students.csv")
    Student.objects.bulk_create(
        [
            Student(
                school=school,
                user_id=row["user_id"],
                name=row["name"],
                name_initials=name_initials(row["name"]),  # bulk_create skips Student.save()
                grade=row["grade"],
                class_name=row["class_name"],
                student_number=row["student_number"],
                avatar_url=row["avatar_url"],
            )
            for row in students
        ],
        update_conflicts=True,
        unique_fields=["user_id"],
        update_fields=["school", "name", "name_initials", "grade", "class_name", "student_number", "avatar_url"],
        batch_size=500,
    )

    user, _ = get_user_model().objects.get_or_create(username=DEMO_STAFF_USERNAME, defaults={"is_staff": True})
    user.is_staff = True
    user.set_password(staff_password)
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["schools", "contacts", "calls"]))
    StaffMembership.objects.update_or_create(user=user, defaults={"school": school, "role": StaffMembership.Role.ADMIN})

    client, _ = ApiClient.objects.get_or_create(
        appid=DEMO_API_APPID, defaults={"name": "演示设备厂商", "secret_hash": ""}
    )
    api_client_grant(client=client, school_id=school.pk)
    secret = api_client_issue_secret(client=client)

    return DemoSummary(
        school=school,
        students=Student.objects.filter(school=school).count(),
        devices=Device.objects.filter(school=school).count(),
        groups=DeviceGroup.objects.filter(school=school).count(),
        staff_username=user.username,
        staff_password=staff_password,
        api_appid=client.appid,
        api_secret=secret,
    )
