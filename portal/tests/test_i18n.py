"""Chinese first (issue 4 §2): the zh_Hans catalog is complete, and the admin and the API speak
Simplified Chinese by default and English on request (``/i18n/setlang/`` or ``Accept-Language``).
Dates and times show in Asia/Shanghai.
"""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from calls.models import CallRecord
from schools.services.api_clients import api_access_token_issue, api_client_create
from schools.tests.factories import DeviceFactory, SchoolFactory, StudentFactory

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    """A request activates its language in the test's thread; later tests must start from the default."""
    yield
    translation.deactivate()


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _catalog():
    with open(PO, "rb") as f:
        return read_po(f, locale="zh_Hans")


# ---------------------------------------------------------------- the catalog


def test_catalog_has_no_untranslated_or_fuzzy_entry():
    catalog = _catalog()
    messages = [m for m in catalog if m.id]
    assert len(messages) > 100
    untranslated = [m.id for m in messages if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert untranslated == [], "translate these in locale/zh_Hans/LC_MESSAGES/django.po"
    assert fuzzy == [], "review these fuzzy entries and drop the flag"
    assert not catalog.fuzzy, "the header is marked fuzzy"


def test_catalog_header_and_placeholders():
    catalog = _catalog()
    headers = dict(catalog.mime_headers)
    assert headers["Language"] == "zh_Hans"
    assert headers["Plural-Forms"] == "nplurals=1; plural=0;"
    for message in catalog:
        if not message.id or "python-format" not in message.flags:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for placeholder in set(re.findall(r"%\([a-z_]+\)[sd]|%[sd]", ids[0])):
            assert all(placeholder in s for s in strings), (message.id, placeholder)


def test_compiled_catalog_is_up_to_date():
    mo = PO.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= PO.stat().st_mtime, "run: DEBUG=1 manage.py compile_translations"


# ---------------------------------------------------------------- the admin


def test_login_page_is_chinese_by_default_and_english_on_request(client):
    page = client.get("/admin/login/").content.decode()
    assert 'lang="zh-hans"' in page
    assert "用户名" in page and "密码" in page

    page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in page
    assert "Username" in page and "Password" in page


@pytest.mark.django_db
def test_student_page_is_chinese_by_default_and_english_after_setlang(staff_client):
    student = StudentFactory(name="王子涵", grade="三年级", class_name="三年级2班", student_number="20240301")
    url = reverse("admin:schools_student_change", args=[student.pk])

    page = staff_client.get(url).content.decode()
    assert 'lang="zh-hans"' in page
    for label in ("学生", "班级", "年级", "学号", "姓名", "学校"):
        assert label in page, label
    assert "Student number" not in page

    response = staff_client.post("/i18n/setlang/", {"language": "en", "next": url})
    assert response.status_code == 302 and response.url == url
    page = staff_client.get(url).content.decode()  # the language cookie now decides
    assert 'lang="en"' in page
    for label in ("Student", "Class", "Grade", "Student number", "Name", "School"):
        assert label in page, label
    assert "学号" not in page

    response = staff_client.post("/i18n/setlang/", {"language": "zh-hans", "next": url})
    assert "学号" in staff_client.get(url).content.decode()


@pytest.mark.django_db
def test_admin_shows_times_in_asia_shanghai(staff_client):
    student = StudentFactory()
    device = DeviceFactory(school=student.school)
    # 16:30 UTC on 1 March is 00:30 on 2 March in Shanghai.
    started = datetime(2025, 3, 1, 16, 30, tzinfo=UTC)
    record = CallRecord.objects.create(
        room_id="room-tz",
        school=student.school,
        device=device,
        student=student,
        openid="oTz",
        started_at=started,
        events={"startVoip": {"data": {}, "received_at": started.isoformat(), "keep_time": None}},
    )

    changelist = staff_client.get(reverse("admin:calls_callrecord_changelist")).content.decode()
    assert "2025年3月2日 00:30" in changelist
    assert "16:30" not in changelist

    page = staff_client.get(reverse("admin:calls_callrecord_change", args=[record.pk])).content.decode()
    assert "2025年3月2日 00:30" in page
    assert "2025-03-02T00:30:00+08:00" in page  # the events as received, their times made local

    page = staff_client.get(reverse("admin:calls_callrecord_changelist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "March 2, 2025, 12:30 a.m." in page  # English too: the time zone does not follow the language
    assert "4:30 p.m." not in page


# ---------------------------------------------------------------- the API


@pytest.mark.django_db
def test_api_error_is_chinese_by_default_and_english_with_accept_language(parent_api):
    parent = parent_api("oI18nParent")
    url = "/api/v1/students/no-such-student/calls"

    body = parent.get(url).json()
    assert (body["code"], body["field"]) == ("not_found", "user_id")
    assert body["detail"] == "user_id: 您绑定的学生中没有该学生。"

    response = parent.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    body = response.json()
    assert (body["code"], body["field"]) == ("not_found", "user_id")
    assert body["detail"] == "user_id: No such student among yours."


@pytest.mark.django_db
def test_authentication_error_is_chinese_by_default_and_english_with_accept_language(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = api.get("/api/v1/me/students")
    assert response.status_code == 401
    assert "令牌无效" in response.json()["detail"]

    response = api.get("/api/v1/me/students", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response.json()["detail"] == "Authorization: the token is invalid or revoked; log in again."


@pytest.mark.django_db
def test_wechat_compatible_errors_stay_english_like_wechat(client):
    response = client.get("/cgi-bin/token", {"grant_type": "client_credential", "appid": "wxnobody"})
    assert response.json() == {"errcode": 41004, "errmsg": "secret missing"}
    api_client, _ = api_client_create(school_ids=[SchoolFactory().pk], name="v")
    token, _ = api_access_token_issue(client=api_client)
    response = client.post(
        f"/wxa/business/getvoipcontactlist?access_token={token}", {}, content_type="application/json"
    )
    assert response.json()["errmsg"] == "user_id: This field is required."


@pytest.mark.django_db
def test_every_admin_page_has_the_language_switcher(staff_client):
    """The header's switcher (issue 12 §5): one button per other language, posting to set_language."""
    login = Client().get("/admin/login/").content.decode()
    assert 'id="language-switcher"' in login and 'action="/i18n/setlang/"' in login
    assert 'value="en" lang="en">English</button>' in login and "简体中文" in login

    url = reverse("admin:schools_student_changelist")
    page = staff_client.get(url).content.decode()
    assert 'id="language-switcher"' in page and f'name="next" value="{url}"' in page

    response = staff_client.post("/i18n/setlang/", {"language": "en", "next": url})
    page = staff_client.get(response.url).content.decode()
    assert 'lang="en"' in page
    assert 'value="zh-hans" lang="zh-hans">简体中文</button>' in page
