"""The demo school that `make run` loads from the shipped roster."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from schools.models import ApiClient, Device, DeviceGroup, School, Student
from schools.pinyin import name_initials
from schools.selectors import api_client_secret_matches

pytestmark = pytest.mark.django_db


def test_load_demo_loads_a_realistic_school_and_is_idempotent(capsys):
    call_command("load_demo", password="demo-pass-123")
    school = School.objects.get(code="hdsy")
    assert Student.objects.filter(school=school).count() >= 1000
    assert Student.objects.values("class_name").distinct().count() >= 20
    assert Device.objects.filter(school=school).count() >= 20
    assert DeviceGroup.objects.filter(school=school).count() >= 2
    # Phones of both modes (REFERENCE.md §1a): face-pay ones in no group, hardware ones grouped.
    face_pay = Device.objects.filter(school=school, call_mode="face_pay")
    assert face_pay.count() == 2 and not face_pay.filter(group__isnull=False).exists()
    assert not Device.objects.filter(school=school, call_mode="hardware", group__isnull=True).exists()
    assert set(DeviceGroup.objects.filter(school=school).values_list("model_id", flat=True)) == {"mdl_campusphone_v2"}
    assert all("\u4e00" <= ch <= "\u9fff" for ch in Student.objects.first().name)
    # Found by pinyin initials too: the demo's students have theirs (bulk_create skips save()).
    pairs = list(Student.objects.values_list("name", "name_initials"))
    assert pairs and all(initials and initials == name_initials(name) for name, initials in pairs)
    out = capsys.readouterr().out
    assert "demo-admin" in out and "demo-pass-123" in out
    user = authenticate(RequestFactory().post("/admin/login/"), username="demo-admin", password="demo-pass-123")
    assert user is not None and user.is_staff and user.staff_membership.school == school

    secret = out.split("secret ")[-1].strip()
    assert api_client_secret_matches(client=ApiClient.objects.get(schools=school), secret=secret)

    call_command("load_demo", password="demo-pass-123")
    assert Student.objects.count() == 1200 and Device.objects.count() == 26


def test_load_demo_prints_the_port_make_run_serves(capsys, monkeypatch):
    # bin/run passes the port runserver serves; a PORT the settings read from .env must not win.
    monkeypatch.setenv("PORT", "9999")
    call_command("load_demo", password="demo-pass-123", port=8765)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8765/admin/" in out
    assert ":9999" not in out and ":8000" not in out
