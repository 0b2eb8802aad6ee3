"""A class at a glance (``contacts.selectors.classes``, the student admin's class page): per student
its contacts, admin and claim-code state, and the class's letters a click away."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from contacts.models import ClaimCode
from contacts.selectors.classes import class_overview
from contacts.services.claim_codes import claim_codes_issue
from contacts.tests.factories import ContactFactory
from schools.tests.factories import SchoolFactory, StaffMembershipFactory, StudentFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:schools_student_class")


@pytest.fixture
def classroom():
    school = SchoolFactory(name="实验小学")
    names = ["王子涵", "李思琪", "张浩宇", "刘欣怡"]
    students = [
        StudentFactory(school=school, name=name, grade="一年级", class_name="一年级2班", student_number=f"S{n}")
        for n, name in enumerate(names)
    ]
    StudentFactory(school=school, grade="一年级", class_name="一年级10班", student_number="T1")
    StudentFactory(school=school, grade="二年级", class_name="二年级1班", student_number="T2")
    ContactFactory(student=students[0], role=1)
    ContactFactory(student=students[0])
    ContactFactory(student=students[1])
    return school, students


def staff(client, school, codenames=("view_student", "change_student")):
    membership = StaffMembershipFactory(school=school)
    membership.user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(membership.user)
    return membership.user


def test_each_student_shows_its_contacts_admin_and_claim_code(classroom):
    school, students = classroom
    user = StaffMembershipFactory(school=school).user
    now = timezone.now()
    claim_codes_issue(students=[students[1], students[2]], issued_by=user)
    ClaimCode.objects.filter(student=students[2]).update(
        created_at=now - timedelta(days=30), expires_at=now - timedelta(days=1)
    )
    rows = class_overview(school_id=school.pk, class_name="一年级2班", now=now)
    assert [(r["student"].name, r["contacts"], r["has_admin"], r["claim_code"]) for r in rows] == [
        ("王子涵", 2, True, "none"),
        ("李思琪", 1, False, "usable"),
        ("张浩宇", 0, False, "expired"),
        ("刘欣怡", 0, False, "none"),
    ]


def test_the_class_page_lists_classes_in_school_order_and_prints_the_class(client, classroom):
    school, students = classroom
    staff(client, school)
    page = client.get(URL, {"class_name": "一年级2班"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    assert page.context["classes"] == ["一年级2班", "一年级10班", "二年级1班"]
    content = page.content.decode()
    assert "4 名学生:2 名没有联系人,3 名没有管理员,0 名有可用认领码。" in content
    assert content.count('name="_selected_action"') == 4 and 'value="issue_claim_codes"' in content
    # The button posts the class to the claim-code action, which asks for confirmation first.
    data = {"action": "issue_claim_codes", "_selected_action": [s.pk for s in students]}
    confirmation = client.post(reverse("admin:schools_student_changelist"), data)
    assert confirmation.status_code == 200 and len(confirmation.context["students"]) == 4
    assert not ClaimCode.objects.exists()


def test_a_viewer_sees_the_class_without_the_print_button_and_never_another_schools(client, classroom):
    school, _students = classroom
    other = StudentFactory(school=SchoolFactory(), class_name="一年级2班", name="外校生")
    staff(client, school, codenames=("view_student",))
    content = client.get(URL).content.decode()
    assert "王子涵" in content and other.name not in content
    assert 'id="print-class-letters"' not in content


def test_the_student_list_links_to_its_class_page(client, classroom):
    school, _students = classroom
    staff(client, school)
    content = client.get(reverse("admin:schools_student_changelist"), {"class_name": "一年级2班"}).content.decode()
    assert f'{URL}?class_name=%E4%B8%80%E5%B9%B4%E7%BA%A72%E7%8F%AD"' in content
