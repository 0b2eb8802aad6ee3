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
    return {
        "school": school,
        "user": user,
        "membership": membership,
        "student": student,
        "dad": dad,
        "foreign": foreign,
    }


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
    assert "待在微信移除" in page.content()  # no longer served; the admin's plugin deletes it at WeChat
    shot("audit-record")
    assert Contact.objects.get(pk=school_office["dad"].pk).state == Contact.State.REMOVING
    assert AuditLog.objects.filter(action="staff_contact_removed", reason="家长申请解绑").exists()

    # Another school's student by URL: 404.
    response = page.goto(f"{page.base_url}/admin/schools/student/{school_office['foreign'].pk}/change/")
    assert response.status == 404
    assert "外校学生" not in page.content()
    shot("other-school-404")


ROSTER_HEADER = "user_id,name,grade,class_name,student_number,avatar_url\n"
BAD_ROSTER = (
    ROSTER_HEADER + "wxfp_browser_000001,李思琪,三年级,三年级2班,20240201,\n,无名氏,三年级,三年级2班,20240202,\n"
)
GOOD_ROSTER = (
    ROSTER_HEADER
    + "wxfp_browser_000001,李思琪,三年级,三年级2班,20240201,\nwxfp_browser_000002,张浩宇,三年级,三年级2班,20240202,\n"
)


def import_roster(page, path):
    page.goto(f"{page.base_url}/admin/schools/student/import/")
    page.set_input_files("input[name=import_file]", str(path))
    page.select_option("select[name=format]", label="csv")
    page.click("input[type=submit]")


def test_staff_member_imports_a_roster_and_prints_a_claim_letter(page, shot, school_office, tmp_path, fake_wechat):
    from schools.models import Student

    login(page)
    bad = tmp_path / "roster-bad.csv"
    bad.write_text(BAD_ROSTER, encoding="utf-8")
    import_roster(page, bad)
    page.wait_for_selector(".validation-error-count")
    assert page.inner_text(".validation-error-count") == "1"
    assert "无名氏" in page.inner_text("table.import-preview")  # the bad row, shown with its error
    shot("import-row-error")
    assert not Student.objects.filter(user_id="wxfp_browser_000001").exists()  # nothing written

    good = tmp_path / "roster.csv"
    good.write_text(GOOD_ROSTER, encoding="utf-8")
    import_roster(page, good)
    page.wait_for_selector("form[action$='process_import/'] input[type=submit]")
    shot("import-preview")
    page.click("form[action$='process_import/'] input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/schools/student/"))
    assert Student.objects.filter(school=school_office["school"], user_id__startswith="wxfp_browser_").count() == 2
    shot("import-done")

    # Print a claim letter for one student.
    new = Student.objects.get(user_id="wxfp_browser_000002")
    page.goto(f"{page.base_url}/admin/schools/student/?q=wxfp_browser_000002")
    page.check(f"input[name=_selected_action][value='{new.pk}']")
    page.select_option("select[name=action]", value="issue_claim_codes")
    page.click("button[name=index]")
    page.wait_for_selector("input[name=issue]", state="attached")
    shot("claim-confirm")
    page.check("input[name=format][value=html]")
    page.click("input[type=submit].default")
    page.wait_for_selector(".claim img[src^='data:image/png;base64,']")  # the mini-program code from WeChat
    assert "张浩宇" in page.content()
    assert fake_wechat.wxacodes_issued == 1
    shot("claim-letter")
    assert new.claim_codes.filter(used_at__isnull=True, revoked_at__isnull=True).count() == 1
