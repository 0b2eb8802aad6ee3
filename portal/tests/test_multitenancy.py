"""One school per staff user, enforced by ``SchoolScopedAdmin`` for every ModelAdmin (issue 4 §1)."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import reverse

from contacts.models import (
    Parent,
)
from contacts.tests.factories import ContactFactory, ParentFactory
from core.admin import SuperuserOnlyAdminMixin
from portal.tests.worlds import make_world
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedInline
from schools.models import ApiClient, StaffMembership
from schools.services.api_clients import api_client_create

pytestmark = pytest.mark.django_db

# Random per-response values (the CSRF token, CSP nonces) may spell "ZZB" by chance.
RANDOM_VALUES = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"|nonce="[^"]*"')


@pytest.fixture
def worlds():
    a, b = make_world("A"), make_world("B")
    # A grandfather bound in both schools: one parent row, two schools' contacts.
    shared = ParentFactory(openid="oShared", nickname="共同家长")
    ContactFactory(student=a["student"], parent=shared, relation="爷爷ZZA")
    ContactFactory(student=b["student"], parent=shared, relation="爷爷ZZB")
    # A vendor serving both schools with one appid: each school sees it, and only its own grant.
    api_client_create(school_ids=[a["school"].pk, b["school"].pk], name="共同厂商")
    return a, b


def request_for(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_every_model_admin_is_scoped_or_superuser_only(worlds):
    a, b = worlds
    superuser = User.objects.create_superuser("root", "r@example.com", "pw")
    checked = 0
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, SuperuserOnlyAdminMixin):
            assert not model_admin.has_module_permission(request_for(a["user"])), model
            assert not model_admin.has_view_permission(request_for(a["user"])), model
            continue
        assert isinstance(model_admin, SchoolScopedAdmin), (
            f"{type(model_admin).__name__} is neither scoped nor superuser-only"
        )
        seen_a = set(model_admin.get_queryset(request_for(a["user"])).values_list("pk", flat=True))
        seen_b = set(model_admin.get_queryset(request_for(b["user"])).values_list("pk", flat=True))
        everything = set(model_admin.get_queryset(request_for(superuser)).values_list("pk", flat=True))
        assert seen_a and seen_b, f"{model.__name__}: each school should see its own rows"
        shared = {
            Parent: {Parent.objects.get(openid="oShared").pk},
            ApiClient: {ApiClient.objects.get(name="共同厂商").pk},
        }.get(model, set())
        assert seen_a & seen_b == shared, f"{model.__name__}: a row is visible to two schools"
        assert seen_a | seen_b <= everything
        checked += 1
    assert checked >= 15


def test_another_schools_row_is_404_by_url(client, worlds):
    a, b = worlds
    client.force_login(a["user"])
    assert client.get(reverse("admin:schools_student_change", args=[b["student"].pk])).status_code == 404
    assert client.get(reverse("admin:schools_student_change", args=[a["student"].pk])).status_code == 200
    assert client.get(reverse("admin:schools_device_delete", args=[b["device"].pk])).status_code == 404
    assert client.get(reverse("admin:schools_student_history", args=[b["student"].pk])).status_code == 404


def test_choices_and_filters_offer_only_the_own_school(client, worlds):
    a, b = worlds
    client.force_login(a["user"])
    page = client.get(reverse("admin:schools_device_add")).content.decode()
    assert b["group"].name not in page
    found = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "schools", "model_name": "device", "field_name": "group", "term": ""},
    ).json()["results"]
    assert [r["text"] for r in found] == [a["group"].name]  # autocomplete answers from the scoped queryset
    page = client.get(reverse("admin:schools_device_changelist")).content.decode()
    assert a["school"].name in page and b["school"].name not in page  # the school filter's choices


def test_staff_cannot_move_a_row_to_another_school(client, worlds, fake_wechat):
    a, b = worlds
    client.force_login(a["user"])
    url = reverse("admin:schools_devicegroup_add")
    data = {"school": b["school"].pk, "name": "新楼", "model_id": "mdl", "model_type": "校园电话", "capacity": 50}
    data.update({"devices-TOTAL_FORMS": 0, "devices-INITIAL_FORMS": 0})
    response = client.post(url, data)
    assert response.status_code == 200  # the other school is not a valid choice
    assert list(response.context["adminform"].form.errors) == ["school"]
    assert not b["school"].device_groups.filter(name="新楼").exists()
    assert fake_wechat.requests == []  # nothing was created at WeChat either


def test_staff_cannot_grant_themselves_rights(client, worlds):
    a, _ = worlds
    client.force_login(a["user"])
    assert client.get(reverse("admin:auth_user_change", args=[a["user"].pk])).status_code == 403
    assert client.get(reverse("admin:schools_staffmembership_changelist")).status_code == 403
    assert client.get(reverse("admin:schools_school_add")).status_code == 403


def test_read_only_viewer_can_look_but_not_change(client, worlds):
    a, _ = worlds
    a["membership"].role = StaffMembership.Role.VIEWER
    a["membership"].save()
    client.force_login(a["user"])
    url = reverse("admin:schools_student_change", args=[a["student"].pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"name": "改名"})
    assert response.status_code == 403
    a["student"].refresh_from_db()
    assert a["student"].name == "学生ZZA"
    assert client.get(reverse("admin:schools_student_add")).status_code == 403


def test_related_filters_across_relations_list_only_the_own_school(client, worlds):
    a, b = worlds
    client.force_login(a["user"])
    for url in (
        "admin:contacts_contact_changelist",
        "admin:contacts_sharelink_changelist",
        "admin:schools_apiaccesstoken_changelist",
    ):
        page = client.get(reverse(url)).content.decode()
        assert b["school"].name not in page, url


def test_every_inline_is_scoped(worlds):
    a, _ = worlds
    request = request_for(a["user"])
    inlines = [
        inline
        for model_admin in admin.site._registry.values()
        if not isinstance(model_admin, SuperuserOnlyAdminMixin)
        for inline in model_admin.get_inline_instances(request)
    ]
    assert len(inlines) >= 4
    for inline in inlines:
        assert isinstance(inline, SchoolScopedInline), f"{type(inline).__name__} is not a SchoolScopedInline"


def test_no_page_of_one_school_shows_anything_of_the_other(client, worlds):
    """Every changelist (rows, list filters, search) and the change page of each of school A's rows
    (inlines, choices, read-only fields), as A's staff: nothing of school B appears."""
    a, _ = worlds
    client.force_login(a["user"])
    pages = 0
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, SuperuserOnlyAdminMixin):
            continue
        info = model._meta.app_label, model._meta.model_name
        urls = [reverse("admin:{}_{}_changelist".format(*info))]
        urls += [
            reverse("admin:{}_{}_change".format(*info), args=[pk])
            for pk in model_admin.get_queryset(request_for(a["user"])).values_list("pk", flat=True)
        ]
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            page = RANDOM_VALUES.sub("", response.content.decode())
            assert "ZZB" not in page, (
                f"{url} shows school B: …{page[max(0, page.index('ZZB') - 120) : page.index('ZZB') + 40]}…"
            )
            pages += 1
    assert pages >= 40


def test_a_parent_of_two_schools_shows_each_school_only_its_own_contacts(client, worlds):
    a, b = worlds
    client.force_login(a["user"])
    shared = Parent.objects.get(openid="oShared")
    page = client.get(reverse("admin:contacts_parent_change", args=[shared.pk])).content.decode()
    assert "学生ZZA" in page and "学生ZZB" not in page
