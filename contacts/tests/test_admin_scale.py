"""The student and contact changelists stay bounded with 100,000 students (issue 4 "Done when")."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import Contact, Parent
from schools.models import Student
from schools.tests.factories import SchoolFactory, StaffMembershipFactory

# Committed and truncated afterwards, not rolled back: 100,000 rolled-back students would stay in the
# table and its indexes as dead rows, and the planner of later tests would cost plans by that bloat.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLASSES = [f"{g}年级{c}班" for g in "一二三四五六" for c in range(1, 11)]


def add_students(school, start: int, n: int):
    Student.objects.bulk_create(
        [
            Student(
                school=school,
                user_id=f"wxfp_scale_{i:08d}",
                name=f"学生{i}",
                grade=CLASSES[i % len(CLASSES)][:3],
                class_name=CLASSES[i % len(CLASSES)],
                student_number=f"S{i:08d}",
            )
            for i in range(start, start + n)
        ],
        batch_size=5000,
    )


def add_contacts(school, n: int):
    parents = Parent.objects.bulk_create([Parent(openid=f"oScale{i:020d}") for i in range(n)], batch_size=5000)
    students = list(Student.objects.filter(school=school).order_by("id").values_list("id", flat=True)[:n])
    Contact.objects.bulk_create(
        [Contact(student_id=s, parent=p, role=1, bound_via="admin") for s, p in zip(students, parents, strict=True)],
        batch_size=5000,
    )


def changelist_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_changelists_run_the_same_queries_at_1000_and_100000_students(client):
    school = SchoolFactory()
    staff = StaffMembershipFactory(school=school)
    staff.user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_student", "change_student", "view_contact"])
    )
    client.force_login(staff.user)
    add_students(school, 0, 1_000)
    add_contacts(school, 500)
    urls = [
        reverse("admin:schools_student_changelist"),
        reverse("admin:contacts_contact_changelist"),
        reverse("admin:schools_student_changelist") + "?q=学生99",
        reverse("admin:schools_student_changelist") + "?class_name=三年级2班",
    ]
    small = [changelist_queries(client, url)[0] for url in urls]

    add_students(school, 1_000, 99_000)
    Parent.objects.all().delete()
    add_contacts(school, 20_000)
    big = []
    for url in urls:
        queries, response = changelist_queries(client, url)
        big.append(queries)
        assert response.context["cl"].result_count > 0
    assert big == small
    assert max(big) <= 12, big
    assert Student.objects.filter(school=school).count() == 100_000
