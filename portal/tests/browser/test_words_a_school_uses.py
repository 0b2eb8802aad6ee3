"""A school's staff member reads the admin in Chinese, switches it to English and back, and adds a
phone on its device group's page (issue 12 §1, §5, §6). Screenshots: ``screenshots/`` (conftest)."""

import re

import pytest
from django.contrib.auth.models import Permission

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from schools.models import Device
from schools.tests.factories import (
    DeviceFactory,
    DeviceGroupFactory,
    SchoolFactory,
    StaffMembershipFactory,
    StudentFactory,
    UserFactory,
)
from schools.tests.wechat_groups import members, wechat_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
CODE_NAMES = re.compile(r"\b(User_id|user_id|Openid|openid|Model_id|model_id|Sn|Group_id|group_id|Appid)\b")


@pytest.fixture
def school_office():
    school = SchoolFactory(name="北京市海淀区实验小学")
    user = UserFactory(username="teacher-li")
    user.set_password(PASSWORD)
    user.save()
    StaffMembershipFactory(user=user, school=school)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["schools", "contacts", "calls"]))
    student = StudentFactory(school=school, name="王子涵", grade="三年级", class_name="三年级2班")
    ContactFactory(
        student=student, role=Contact.Role.ADMIN, relation="妈妈", parent__openid="oMama000000000000000000000001"
    )
    group = DeviceGroupFactory(school=school, name="教学楼", group_id="grp_teaching")
    device = DeviceFactory(school=school, group=group, sn="SN-0001", device_name="一楼电话", location="一楼大厅")
    return {"school": school, "student": student, "group": group, "device": device}


def login(page):
    page.goto(f"{page.base_url}/admin/login/")
    page.fill("#id_username", "teacher-li")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def labels(page) -> str:
    """The text of the page's labels and column headers: what must read Chinese."""
    return " ".join(page.locator("label, th, h2").all_inner_texts())


def test_student_and_device_pages_read_chinese(page, shot, school_office):
    login(page)
    page.goto(f"{page.base_url}/admin/schools/student/{school_office['student'].pk}/change/")
    text = labels(page)
    for label in ("刷脸用户ID", "姓名", "年级", "班级", "联系人"):
        assert label in text, label
    assert not CODE_NAMES.search(text), CODE_NAMES.search(text)
    assert "oMama000000000000000000000001" not in page.inner_text("body")  # masked outside the parent's page
    shot("student-page")

    page.goto(f"{page.base_url}/admin/schools/device/{school_office['device'].pk}/change/")
    text = labels(page)
    for label in ("设备序列号", "设备型号ID", "设备名称", "设备组"):
        assert label in text, label
    assert not CODE_NAMES.search(text), CODE_NAMES.search(text)
    assert "微信的 sn" in page.inner_text("body")  # WeChat's name stays, in the help text
    shot("device-page")


def test_the_language_switcher_switches_and_comes_back(page, shot, school_office):
    login(page)
    url = f"{page.base_url}/admin/schools/student/{school_office['student'].pk}/change/"
    page.goto(url)
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.inner_text("#language-switcher [aria-current]") == "简体中文"
    shot("chinese")

    page.click("#language-switcher button[value=en]")
    page.wait_for_url(url)
    assert page.get_attribute("html", "lang") == "en"
    assert "Face-pay user ID" in labels(page)
    shot("english")

    page.click("#language-switcher button[value=zh-hans]")
    page.wait_for_url(url)
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert "刷脸用户ID" in labels(page)


def test_a_phone_added_on_its_groups_page_joins_the_group(page, shot, school_office, fake_wechat):
    group = school_office["group"]
    wechat_group(fake_wechat, group.group_id, devices=[school_office["device"]])
    login(page)
    page.goto(f"{page.base_url}/admin/schools/devicegroup/{group.pk}/change/")
    assert "向设备组添加设备" in page.inner_text("body")
    assert page.input_value("input[name='devices-2-0-model_id']") == group.model_id  # the group's model

    # Another model than the group's: the error is shown on the model field, nothing saved.
    page.fill("input[name='devices-2-0-sn']", "SN-0002")
    page.fill("input[name='devices-2-0-model_id']", "mdl_other")
    page.fill("input[name='devices-2-0-device_name']", "二楼电话")
    page.click("input[name=_continue]")
    error = page.locator("td.field-model_id .errorlist")
    error.wait_for()
    assert error.is_visible() and "校园电话" in error.inner_text()
    assert not Device.objects.filter(sn="SN-0002").exists()
    shot("wrong-model")

    page.fill("input[name='devices-2-0-model_id']", group.model_id)
    page.fill("input[name='devices-2-0-location']", "二楼走廊")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    added = Device.objects.get(sn="SN-0002")
    assert (added.school, added.group, added.location) == (school_office["school"], group, "二楼走廊")
    assert members(fake_wechat, group.group_id) == {"SN-0001", "SN-0002"}
    assert "SN-0002" in page.inner_text("#devices-group")  # listed among the group's phones
    shot("added")
