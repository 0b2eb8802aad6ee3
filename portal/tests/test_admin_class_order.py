"""Lists of a student's rows sort their class column in school order (issue 12 §2), as the student
list does: 一年级2班 before 一年级10班 before 二年级1班 (``schools.admin.scoping.StudentClassOrderMixin``)."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calls.models import CallRecord, StudentCallPolicy
from calls.tests.factories import make_call
from contacts.models import ClaimCode
from contacts.services.claim_codes import claim_codes_issue
from schools.tests.factories import DeviceFactory, SchoolFactory, StaffMembershipFactory, StudentFactory

pytestmark = pytest.mark.django_db

CLASSES = ["二年级1班", "一年级10班", "一年级2班"]  # created out of order; by character 一年级10班 < 一年级2班
SCHOOL_ORDER = ["一年级2班", "一年级10班", "二年级1班"]


def rows_of(model, students, user):
    if model is CallRecord:
        device = DeviceFactory(school=students[0].school)
        for student in students:
            make_call(student=student, device=device)
    elif model is StudentCallPolicy:
        for student in students:
            StudentCallPolicy.objects.create(student=student)
    else:
        claim_codes_issue(students=students, issued_by=user)


@pytest.mark.parametrize("model", [CallRecord, StudentCallPolicy, ClaimCode], ids=lambda m: m.__name__)
def test_the_class_column_sorts_in_school_order(client, model):
    school = SchoolFactory()
    students = [StudentFactory(school=school, grade=name[:3], class_name=name) for name in CLASSES]
    membership = StaffMembershipFactory(school=school)
    membership.user.user_permissions.set(Permission.objects.filter(codename=f"view_{model._meta.model_name}"))
    client.force_login(membership.user)
    rows_of(model, students, membership.user)

    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    cl = client.get(url).context["cl"]
    [column] = [
        index
        for index, entry in enumerate(cl.list_display)
        if getattr(getattr(cl.model_admin, entry, None) if isinstance(entry, str) else entry, "admin_order_field", "")
        == "student_class_rank"
    ]
    for direction, expected in [("", SCHOOL_ORDER), ("-", SCHOOL_ORDER[::-1])]:
        with CaptureQueriesContext(connection) as queries:
            shown = client.get(url, {"o": f"{direction}{column}"}).context["cl"].result_list
        assert [row.student.class_name for row in shown] == expected, direction
        # The school's classes read once, for the order and for the class filter's choices alike.
        assert len([q for q in queries.captured_queries if "vocabulary" in q["sql"]]) == 1
