"""The Django admin: every model registered and browsable, staff scoped to their school."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from schools.models import AuditLog
from schools.tests.factories import (
    DeviceFactory,
    DeviceGroupFactory,
    SchoolFactory,
    StaffMembershipFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db

OUR_APPS = {"schools", "contacts", "calls"}


def our_models():
    return [m for m in admin.site._registry if m._meta.app_label in OUR_APPS]


def test_every_model_of_our_apps_is_registered():
    from django.apps import apps

    for app_label in OUR_APPS:
        for model in apps.get_app_config(app_label).get_models():
            assert model in admin.site._registry, f"{model.__name__} is not in the admin"


def test_every_changelist_renders_with_data(client):
    student = StudentFactory()
    ContactFactory(student=student, role=1)
    DeviceFactory(school=student.school, group=DeviceGroupFactory(school=student.school))
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    for model in our_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url)
        assert response.status_code == 200, url


def test_search_by_user_id_openid_and_name(client):
    contact = ContactFactory(role=1)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    url = reverse("admin:schools_student_changelist")
    assert contact.student.name in client.get(url, {"q": contact.student.user_id}).content.decode()
    url = reverse("admin:contacts_contact_changelist")
    assert contact.parent.openid in client.get(url, {"q": contact.parent.openid}).content.decode()


def test_bind_events_and_audit_rows_are_read_only():
    for name in ("BindEvent", "AuditLog"):
        model_admin = next(a for m, a in admin.site._registry.items() if m.__name__ == name)
        request = type("R", (), {"user": User(is_superuser=True, is_staff=True)})()
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)


def test_staff_see_only_their_schools_students(client):
    mine, theirs = StudentFactory(name="本校学生"), StudentFactory(name="外校学生")
    membership = StaffMembershipFactory(school=mine.school)
    membership.user.user_permissions.set(Permission.objects.filter(codename__in=["view_student", "change_student"]))
    client.force_login(membership.user)
    page = client.get(reverse("admin:schools_student_changelist")).content.decode()
    assert "本校学生" in page and "外校学生" not in page
    response = client.get(reverse("admin:schools_student_change", args=[theirs.pk]))
    assert response.status_code != 200  # the admin treats another school's row as missing
    assert client.get(reverse("admin:schools_student_change", args=[mine.pk])).status_code == 200


def test_api_client_secret_is_shown_once_and_stored_hashed(client):
    school = SchoolFactory()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(
        reverse("admin:schools_apiclient_add"),
        {"grant_schools": [school.pk], "name": "厂商A", "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    [message] = [str(m) for m in response.context["messages"] if "secret" in str(m)]
    api_client = school.api_clients.get()
    secret = message.split("secret ")[1].split(" ")[0]
    assert api_client.appid in message and secret not in api_client.secret_hash
    r = client.get("/cgi-bin/token", {"grant_type": "client_credential", "appid": api_client.appid, "secret": secret})
    assert r.status_code == 200 and "access_token" in r.json()
    assert AuditLog.objects.filter(action="api_secret_issued", school=school).exists()
