"""A teacher reads the portal as a school does (issue 12 §2–4, §6), in Chinese, in a real browser:
prints a class's letters from the class page, finds a student by name or pinyin initials, removes a contact and reads
the sentence in its history, reads the usage chart. Screenshots in ``screenshots/`` (conftest)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from calls.tests.factories import local, make_call
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from core.masking import mask_openid
from schools.tests.factories import DeviceFactory, SchoolFactory, StaffMembershipFactory, StudentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def school():
    school = SchoolFactory(name="北京市海淀区实验小学")
    user = UserFactory(username="zhang", first_name="老师", last_name="张")
    user.set_password(PASSWORD)
    user.save()
    StaffMembershipFactory(user=user, school=school)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["schools", "contacts", "calls"]))
    students = {}
    for n, (name, class_name) in enumerate(
        [("王子涵", "一年级2班"), ("李思琪", "一年级2班"), ("张浩宇", "一年级10班"), ("刘欣怡", "二年级1班")]
        + [("陈一诺", "三年级1班"), ("赵雨桐", "六年级1班"), ("周芷璐", "四年级1班"), ("吴子雅", "五年级1班")]
    ):
        students[name] = StudentFactory(
            school=school, name=name, grade=class_name[:3], class_name=class_name, student_number=f"2026{n:04d}"
        )
    ContactFactory(student=students["王子涵"], role=Contact.Role.ADMIN, relation="妈妈")
    dad = ContactFactory(student=students["王子涵"], relation="爸爸")
    return {"school": school, "students": students, "dad": dad}


def login(page):
    page.goto(f"{page.base_url}/admin/login/")
    page.fill("#id_username", "zhang")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def test_grades_and_classes_in_school_order_and_a_student_found_by_name_or_pinyin_initials(page, shot, school):
    login(page)
    page.goto(f"{page.base_url}/admin/schools/student/")
    grades = page.locator("#changelist-filter details").filter(has_text="年级").first
    texts = [t.strip() for t in grades.locator("li a").all_inner_texts()]
    assert [t for t in texts if t.endswith("年级")] == ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级"]
    classes = [c.strip() for c in page.locator("#result_list tbody tr td.field-class_column").all_inner_texts()]
    assert classes.index("一年级2班") < classes.index("一年级10班") < classes.index("二年级1班")
    shot("school-order")

    page.fill("#searchbar", "思琪")
    page.press("#searchbar", "Enter")
    page.wait_for_url(re.compile(r"q="))
    assert page.locator("#result_list tbody tr").count() == 1 and "李思琪" in page.inner_text("#result_list")
    shot("found-by-name")

    page.fill("#searchbar", "wzh")  # 王子涵 by the pinyin initials of her name
    page.press("#searchbar", "Enter")
    page.wait_for_url(re.compile(r"q=wzh"))
    assert page.locator("#result_list tbody tr").count() == 1 and "王子涵" in page.inner_text("#result_list")
    assert "拼音首字母" in page.inner_text("#changelist-search")  # the search box says it can
    shot("found-by-pinyin-initials")


def test_a_teacher_prints_the_letters_of_a_class(page, shot, school, fake_wechat):
    login(page)
    page.goto(f"{page.base_url}/admin/schools/student/?class_name=一年级2班")
    page.click(".class-overview-link a")
    page.wait_for_selector("#class-overview")
    assert "一年级2班 一览" in page.content()
    assert page.locator("tr.class-student").count() == 2
    assert page.locator("tr.class-student[data-admin='1']").count() == 1  # 王子涵 has her admin
    shot("class-at-a-glance")

    page.click("#print-class-letters")
    page.wait_for_selector("input[name=issue]", state="attached")
    shot("class-letters-confirm")
    page.check("input[name=format][value=html]")
    page.click("input[type=submit].default")
    page.wait_for_selector(".claim img[src^='data:image/png;base64,']")
    content = page.content()
    assert "王子涵" in content and "李思琪" in content and "张浩宇" not in content
    assert fake_wechat.wxacodes_issued == 2
    shot("class-letters")


def test_a_teacher_removes_a_contact_and_reads_it_in_the_history(page, shot, school):
    student = school["students"]["王子涵"]
    login(page)
    page.goto(f"{page.base_url}/admin/schools/student/{student.pk}/change/")
    page.click(f"a[href$='/contacts/{school['dad'].pk}/remove/']")
    page.fill("textarea[name=reason]", "家长申请解绑")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(rf"/admin/schools/student/{student.pk}/change/$"))
    history = page.locator("details.history-details").first
    assert "张老师 移除了 王子涵的爸爸,原因:家长申请解绑" in page.content()
    assert not history.locator("pre").is_visible()  # the raw record stays folded
    history.locator("summary").click()
    raw = history.locator("pre").inner_text()
    assert '"action": "staff_contact_removed"' in raw and mask_openid(school["dad"].parent.openid) in raw
    shot("history-sentence")


def test_a_teacher_reads_the_usage_chart(page, shot, school):
    device = DeviceFactory(school=school["school"], device_name="一楼东侧")
    today = timezone.localdate()
    for n, (calls, keep) in enumerate([(3, 120), (1, 60), (5, 300), (2, 90)]):
        day = today - timedelta(days=4 - n)
        for _ in range(calls):
            make_call(
                student=school["students"]["王子涵"], device=device, keep=keep, billed=keep, started_at=local(day, 9)
            )
    login(page)
    page.goto(f"{page.base_url}/admin/calls/callusage/")
    page.wait_for_selector("#usage-chart[data-drawn='1']")
    assert "每日用量" in page.content()
    box = page.locator("#usage-chart").bounding_box()
    assert box["width"] > 300 and box["height"] > 200
    shot("usage-chart")
