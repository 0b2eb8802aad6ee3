"""A school's staff member uses the admin in a real browser (issue 4 §7)."""
import re

import pytest
from django.contrib.auth.models import Permission

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from schools.models import AuditLog
from schools.tests.factories import SchoolFactory, StaffMembershipFactory, StudentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def school_office():
    school = SchoolFactory(name="北京市海淀区实验小学")
    user = UserFactory(username="teacher-wang")
    user.set_password(PASSWORD)
    user.save()
    membership = StaffMembershipFactory(user=user, school=school)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["schools", "contacts", "calls"]))
    student = StudentFactory(school=school, name="王子涵", class_name="三年级2班")
    ContactFactory(student=student, role=Contact.Role.ADMIN, relation="妈妈")
    dad = ContactFactory(student=student, relation="爸爸")
    foreign = StudentFactory(school=SchoolFactory(name="别的学校"), name="外校学生")
    return {"school": school, "user": user, "membership": membership, "student": student, "dad": dad, "foreign": foreign}


def login(page):
    page.goto(f"{page.base_url}/admin/login/")
    page.fill("#id_username", "teacher-wang")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def test_staff_member_works_in_the_admin(page, shot, school_office):
    login(page)
    assert "站点管理" in page.content() or "管理" in page.title()  # Chinese first
    shot("index")

    student = school_office["student"]
    page.goto(f"{page.base_url}/admin/schools/student/{student.pk}/change/")
    assert "王子涵" in page.content()
    # Remove 爸爸 with a reason, then see the audit record on the student's page.
    page.click(f"a[href$='/contacts/{school_office['dad'].pk}/remove/']")
    page.fill("textarea[name=reason]", "家长申请解绑")
    shot("remove-contact")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(rf"/admin/schools/student/{student.pk}/change/$"))
    assert "家长申请解绑" in page.content()
    shot("audit-record")
    assert not Contact.objects.filter(pk=school_office["dad"].pk).exists()
    assert AuditLog.objects.filter(action="staff_contact_removed", reason="家长申请解绑").exists()

    # Another school's student by URL: 404.
    response = page.goto(f"{page.base_url}/admin/schools/student/{school_office['foreign'].pk}/change/")
    assert response.status == 404
    assert "外校学生" not in page.content()
    shot("other-school-404")
