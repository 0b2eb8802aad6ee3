"""Roles in the admin and in the services behind it (issue 9 §1, §2): every admin action and staff
view, tried by each role — read-only viewer, school administrator, another school's administrator,
platform superuser. A viewer is offered nothing that changes rows and changes nothing when it posts
an action anyway; another school's administrator reaches nothing of this school; nothing answers 500.
"""

from collections import Counter

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.test import RequestFactory
from django.urls import reverse

from contacts.models import Contact
from contacts.tests.factories import ContactFactory, ParentFactory
from core.admin import SuperuserOnlyAdminMixin
from core.errors import Forbidden, NotFound
from portal.tests.worlds import make_world
from schools.models import ApiClient, School, StaffMembership
from schools.services.api_clients import api_client_issue_secret
from schools.services.device_groups import device_group_create
from schools.tests.factories import SchoolFactory, StaffMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

OUR_APPS = ("schools", "contacts", "calls")


@pytest.fixture
def world(fake_wechat):
    a, b = make_world("A"), make_world("B")
    viewer = StaffMembershipFactory(
        school=a["school"],
        user=UserFactory(username="viewer-ZZA"),
        role=StaffMembership.Role.VIEWER,
        permissions=Permission.objects.all(),
    ).user
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    return {"a": a, "b": b, "viewer": viewer, "admin": a["user"], "other_admin": b["user"], "root": root}


def scoped_admins():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, SuperuserOnlyAdminMixin)
    ]


def request_for(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def snapshot():
    """Rows per model of our apps, and every value a write could change that counts alone would miss."""
    counts = Counter(
        {m._meta.label: m.objects.count() for app in OUR_APPS for m in apps.get_app_config(app).get_models()}
    )
    return (
        counts,
        sorted(ApiClient.objects.values_list("secret_hash", flat=True)),
        sorted(Contact.objects.values_list("pk", "state", "role")),
        sorted(School.objects.values_list("pk", "is_active")),
        list(apps.get_model("schools", "Student").objects.order_by("pk").values_list("is_active", flat=True)),
        list(apps.get_model("contacts", "ShareLink").objects.order_by("pk").values_list("state", flat=True)),
    )


def post_action(client, model, name, ids):
    """Post an admin action as a browser would, confirming any intermediate page at once."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    body = {"action": name, "_selected_action": ids, "apply": "1", "issue": "1", "reason": "试一试", "format": "html"}
    return client.post(url, body)


def declared_actions(model_admin):
    names = {"delete_selected"}
    for action in model_admin.actions or ():
        names.add(action if isinstance(action, str) else action.__name__)
    return sorted(names)


def test_a_viewer_is_offered_no_action_and_changes_nothing_by_posting_each_anyway(client, world):
    client.force_login(world["viewer"])
    tried = 0
    for model, model_admin in scoped_admins():
        assert model_admin.get_actions(request_for(world["viewer"])) == {}, model
        ids = list(model_admin.get_queryset(request_for(world["admin"])).values_list("pk", flat=True))
        for name in declared_actions(model_admin):
            before = snapshot()
            response = post_action(client, model, name, ids)
            assert response.status_code in (200, 302), (model, name, response.status_code)
            assert snapshot() == before, (model, name)
            tried += 1
    assert tried >= 20


def test_another_schools_administrator_changes_nothing_of_this_school(client, world):
    client.force_login(world["other_admin"])
    tried = 0
    for model, model_admin in scoped_admins():
        ids = list(model_admin.get_queryset(request_for(world["admin"])).values_list("pk", flat=True))
        mine = set(model_admin.get_queryset(request_for(world["other_admin"])).values_list("pk", flat=True))
        ids = [pk for pk in ids if pk not in mine]  # a parent shared by both schools is also B's row
        if not ids:
            continue
        for name in declared_actions(model_admin):
            before = snapshot()
            response = post_action(client, model, name, ids)
            assert response.status_code in (200, 302), (model, name, response.status_code)
            assert snapshot() == before, (model, name)
            tried += 1
    assert tried >= 20


def test_the_schools_administrator_is_offered_its_actions_and_none_answers_500(client, world):
    client.force_login(world["admin"])
    offered = 0
    for model, model_admin in scoped_admins():
        actions = model_admin.get_actions(request_for(world["admin"]))
        ids = list(model_admin.get_queryset(request_for(world["admin"])).values_list("pk", flat=True))
        for name in actions:
            if name == "delete_selected":
                continue  # deleting is tried by the viewer test; here the rows must stay for the next actions
            response = post_action(client, model, name, ids)
            assert response.status_code in (200, 302), (model, name, response.status_code)
            offered += 1
    assert offered >= 8  # the staff actions: deactivate, revoke, letters, posters, check against WeChat, …


STAFF_VIEWS = ("admin:schools_student_remove_contact", "admin:schools_student_transfer_admin")


def staff_view_urls(world):
    student = world["a"]["student"]
    contact = Contact.objects.filter(student=student).exclude(role=Contact.Role.ADMIN).first()
    contact = contact or Contact.objects.filter(student=student).first()
    return [
        reverse("admin:schools_student_remove_contact", args=[student.pk, contact.pk]),
        reverse("admin:schools_student_transfer_admin", args=[student.pk]),
    ]


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("other_admin", 404), ("admin", 200), ("root", 200)])
def test_staff_views_by_role(client, world, role, status):
    client.force_login(world[role])
    for url in staff_view_urls(world):
        before = snapshot()
        assert client.get(url).status_code == status, url
        response = client.post(url, {"reason": "试一试", "new_admin_openid": "oZZA"})
        assert response.status_code == (302 if status == 200 else status) or response.status_code == 200, url
        if status != 200:
            assert snapshot() == before, url


def test_a_viewer_cannot_import_rosters_or_reach_platform_pages(client, world):
    client.force_login(world["viewer"])
    for model in ("schools/student", "schools/device", "schools/devicegroup"):
        assert client.get(f"/admin/{model}/import/").status_code == 403, model
        assert client.get(f"/admin/{model}/export/").status_code == 200, model  # reading is a viewer's right
    for url in ("/admin/auth/user/", "/admin/schools/staffmembership/", "/admin/django_celery_beat/periodictask/"):
        assert client.get(url).status_code == 403, url


# --- finding 1: a viewer reset the vendor secret -----------------------------------------------------


def test_a_viewer_cannot_reset_the_vendor_secret_in_the_admin_or_through_the_service(client, world):
    api_client = ApiClient.objects.get(name="厂商ZZA")
    before = api_client.secret_hash
    client.force_login(world["viewer"])
    response = post_action(client, ApiClient, "reset_secret", [api_client.pk])
    assert response.status_code in (200, 302)
    assert "secret" not in " ".join(str(m) for m in response.wsgi_request._messages)
    with pytest.raises(Forbidden):
        api_client_issue_secret(client=api_client, actor_user=world["viewer"])
    with pytest.raises(NotFound):
        api_client_issue_secret(client=api_client, actor_user=world["other_admin"])
    api_client.refresh_from_db()
    assert api_client.secret_hash == before
    api_client_issue_secret(client=api_client, actor_user=world["admin"])  # the school's administrator may


def test_services_check_the_acting_user_whoever_calls_them(world):
    school = world["a"]["school"]
    for user, error in ((world["viewer"], Forbidden), (world["other_admin"], NotFound)):
        with pytest.raises(error):
            device_group_create(
                school=school, name="新楼", model_id="m", model_type="校园电话", capacity=5, actor_user=user
            )
    assert not school.device_groups.filter(name="新楼").exists()


# --- tenancy of shared rows -------------------------------------------------------------------------


def test_a_shared_parent_is_read_only_to_school_staff_and_its_history_shows_only_their_school(client, world):
    shared = ParentFactory(openid="oSharedParent", nickname="共同家长")
    ContactFactory(student=world["a"]["student"], parent=shared)
    ContactFactory(student=world["b"]["student"], parent=shared)
    url = reverse("admin:contacts_parent_change", args=[shared.pk])
    for user, message in ((world["admin"], "edited by ZZA"), (world["other_admin"], "edited by ZZB")):
        LogEntry.objects.log_actions(user_id=user.pk, queryset=[shared], action_flag=2, change_message=message)
    LogEntry.objects.log_actions(user_id=world["root"].pk, queryset=[shared], action_flag=2, change_message="platform")

    client.force_login(world["admin"])
    assert client.post(url, {"nickname": "改名"}).status_code == 403
    shared.refresh_from_db()
    assert shared.nickname == "共同家长"
    history = client.get(reverse("admin:contacts_parent_history", args=[shared.pk])).content.decode()
    assert "edited by ZZA" in history and "platform" in history
    assert "edited by ZZB" not in history and "staff-ZZB" not in history

    client.force_login(world["root"])
    history = client.get(reverse("admin:contacts_parent_history", args=[shared.pk])).content.decode()
    assert "edited by ZZA" in history and "edited by ZZB" in history


# --- finding 7: first-come admin binding is an explicit choice ----------------------------------------


def test_new_schools_require_claim_codes_and_first_come_binding_shows_a_warning(client):
    assert School(name="新学校", code="new").require_claim_code is True
    first_come = SchoolFactory(require_claim_code=False)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    page = client.get(reverse("admin:schools_school_change", args=[first_come.pk])).content.decode()
    warning = "本校的管理员联系人为先到先得"
    assert warning in page
    strict = SchoolFactory(require_claim_code=True)
    assert warning not in client.get(reverse("admin:schools_school_change", args=[strict.pk])).content.decode()
