"""The Django admin: every model registered and browsable, staff scoped to their school."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from schools.models import ApiClient, AuditLog
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


def inline_fields(client, url) -> dict:
    """The hidden fields of the change page's inlines (management forms, row ids), as a browser posts them."""
    page = client.get(url).content.decode()
    return dict(re.findall(r'<input type="hidden" name="([^"]+-[^"]+)" [^>]*value="([^"]*)"', page))


def test_a_client_serving_two_schools_is_granted_by_a_superuser_and_only_seen_by_each_schools_staff(client):
    a, b = SchoolFactory(name="甲校"), SchoolFactory(name="乙校")
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    client.post(
        reverse("admin:schools_apiclient_add"), {"grant_schools": [a.pk, b.pk], "name": "多校厂商", "is_active": "on"}
    )
    api_client = ApiClient.objects.get(name="多校厂商")
    assert set(api_client.schools.all()) == {a, b}
    assert set(AuditLog.objects.filter(action="api_client_granted").values_list("school", flat=True)) == {a.pk, b.pk}

    # Withdrawing a school is the superuser's change too, audited in that school.
    change = reverse("admin:schools_apiclient_change", args=[api_client.pk])
    form = {"name": "多校厂商", "is_active": "on", **inline_fields(client, change)}
    assert client.post(change, {**form, "grant_schools": [a.pk]}).status_code == 302
    assert list(api_client.schools.all()) == [a]
    assert AuditLog.objects.get(action="api_client_ungranted").school == b
    form = {"name": "多校厂商", "is_active": "on", **inline_fields(client, change)}
    assert client.post(change, {**form, "grant_schools": [a.pk, b.pk]}).status_code == 302

    # School A's staff see the client and only A's grant, and may neither change it nor reset its secret.
    staff = StaffMembershipFactory(school=a, permissions=["schools"])
    client.force_login(staff.user)
    page = client.get(change)
    assert page.status_code == 200 and "甲校" in page.content.decode() and "乙校" not in page.content.decode()
    assert client.post(change, {"name": "改名", "is_active": "on"}).status_code == 403
    before = api_client.secret_hash
    client.post(
        reverse("admin:schools_apiclient_changelist"), {"action": "reset_secret", "_selected_action": [api_client.pk]}
    )
    api_client.refresh_from_db()
    assert api_client.secret_hash == before and api_client.name == "多校厂商"


@pytest.mark.parametrize(
    "url, query, message",
    [
        ("admin:contacts_contact_changelist", "student__name=王", True),  # a relation lookup not in list_filter
        ("admin:schools_device_changelist", "school__name=甲", True),
        ("admin:schools_student_changelist", "foo__bar=1", False),  # no such field: Django's own ?e=1
    ],
)
def test_a_filter_the_admin_does_not_allow_answers_the_list_with_a_message(client, url, query, message):
    """Not a bare 400 page (issue 12 §5): ``PortalAdminSite.admin_view``."""
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.get(f"{reverse(url)}?{query}")
    assert response.status_code == 302 and response.url == f"{reverse(url)}?e=1"
    page = client.get(response.url)
    assert page.status_code == 200 and 'lang="zh-hans"' in page.content.decode()
    assert ("此列表不能按该条件筛选" in page.content.decode()) == message


def test_the_header_links_the_api_docs_not_a_missing_site(client):
    """Django's "View site" went to /, which answers 404 (issue 12 §5)."""
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    page = client.get(reverse("admin:index")).content.decode()
    assert '<a href="/api/docs/">API 文档</a>' in page
    assert "查看站点" not in page and 'href="/"' not in page
    assert client.get("/api/docs/").status_code == 200


def test_a_favicon_at_the_root_and_on_every_admin_page(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    page = client.get("/admin/login/").content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in page
    assert client.get("/static/portal/favicon.svg").status_code == 200
