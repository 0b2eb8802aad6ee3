"""The admin index's dashboard (issue 4 §6): portal.dashboard.dashboard_data, admin/dashboard.json and
the index page of portal.admin_site.PortalAdminSite — numbers, local days, scoping, links, assets."""

import html
import itertools
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls.tests.factories import local, make_call
from contacts.models import Contact, ShareLink
from contacts.tests.factories import ContactFactory
from core.local_time import local_today
from portal.dashboard import DAYS, dashboard_data
from schools.demo.loader import DEMO_STAFF_USERNAME
from schools.tests.factories import DeviceFactory, SchoolFactory, StaffMembershipFactory, StudentFactory, UserFactory

pytestmark = pytest.mark.django_db

INDEX_URL = "/admin/"
JSON_URL = "/admin/dashboard.json"
_seq = itertools.count(1)


def make_link(student, issuer, *, state="active", created_at, expires_at):
    return ShareLink.objects.create(
        token_hash=f"{next(_seq):064x}",
        student=student,
        issued_by=issuer,
        state=state,
        created_at=created_at,
        expires_at=expires_at,
    )


def staff_user(school, *, app_labels=("schools", "contacts", "calls")):
    username = f"dash-staff-{next(_seq)}"
    membership = StaffMembershipFactory(school=school, user=UserFactory(username=username), permissions=app_labels)
    return membership.user


@pytest.fixture
def world():
    """School A, hand-made, and a smaller school B; ``today`` is the local (Asia/Shanghai) date.

    A, class 一班: s1 (admin + ordinary contact), s2 (ordinary only), s3 (none), an inactive student
    without contacts (not counted); class 二班: s4 (admin only), s5 (none).
    """
    today = local_today()
    now = timezone.now()
    a = SchoolFactory(name="甲校")
    s1, s2, s3 = (StudentFactory(school=a, class_name="一班", name=f"A一班{n}") for n in (1, 2, 3))
    StudentFactory(school=a, class_name="一班", name="A一班离校", is_active=False)
    s4, s5 = (StudentFactory(school=a, class_name="二班", name=f"A二班{n}") for n in (4, 5))
    admin1 = ContactFactory(
        student=s1, role=Contact.Role.ADMIN, bound_at=local(today, 0, 30)
    )  # 16:30 UTC the day before
    ContactFactory(student=s1, bound_at=local(today - timedelta(days=1), 23, 50))
    ContactFactory(student=s2, bound_at=local(today - timedelta(days=DAYS - 1), 8))  # the first day of the period
    ContactFactory(
        student=s4, role=Contact.Role.ADMIN, bound_at=local(today - timedelta(days=DAYS), 23, 59)
    )  # the day before it

    issuer = admin1.parent
    make_link(s1, issuer, created_at=now - timedelta(hours=1), expires_at=now + timedelta(hours=5))  # active
    make_link(
        s1, issuer, created_at=now - timedelta(hours=3), expires_at=now - timedelta(hours=1)
    )  # past expiry, not swept yet
    make_link(s1, issuer, state="expired", created_at=now - timedelta(days=3), expires_at=now - timedelta(days=2))
    make_link(s1, issuer, state="revoked", created_at=now - timedelta(hours=2), expires_at=now + timedelta(hours=20))

    d1 = DeviceFactory(school=a, device_name="一楼", sn="SN-DASH-1")
    d2 = DeviceFactory(school=a, device_name="二楼", sn="SN-DASH-2")
    d3 = DeviceFactory(school=a, device_name="三楼", sn="SN-DASH-3")
    yesterday, first_day = today - timedelta(days=1), today - timedelta(days=DAYS - 1)
    make_call(student=s1, device=d1, started_at=local(today, 0, 30), keep=122, billed=120)  # local today, UTC yesterday
    make_call(
        student=s1, device=d1, started_at=local(today, 10), keep=60, billed=None, room_type="video"
    )  # keepTime counts
    make_call(student=s4, device=d3, started_at=local(today, 11), outcome="timeout")
    make_call(student=s2, device=d2, started_at=local(yesterday, 23, 30), keep=300, billed=300)  # UTC today
    make_call(student=s2, device=d2, started_at=local(first_day, 8), outcome="timeout")
    make_call(
        student=s2, device=d3, started_at=local(first_day - timedelta(days=1), 23), keep=600, billed=600
    )  # before the period

    b = SchoolFactory(name="乙校")
    b1 = StudentFactory(school=b, class_name="一班", name="B一班1")  # same class name as in A; no contact
    b2 = StudentFactory(school=b, class_name="三班", name="B三班2")
    b_admin = ContactFactory(student=b2, role=Contact.Role.ADMIN, bound_at=local(today, 9))
    make_link(b2, b_admin.parent, created_at=now - timedelta(hours=1), expires_at=now + timedelta(hours=5))
    bd = DeviceFactory(school=b, device_name="乙校门口", sn="SN-DASH-B")
    make_call(student=b1, device=bd, started_at=local(today, 9), keep=30, billed=30)
    return {
        "today": today, "a": a, "b": b,
        "students": {"s1": s1, "s2": s2, "s3": s3, "s4": s4, "s5": s5, "b1": b1, "b2": b2},
        "devices": (d1, d2, d3, bd),
    }  # fmt: skip


# ---------------------------------------------------------------- the numbers


def test_students_without_contact_or_admin_per_class(world):
    data = dashboard_data(school_id=world["a"].pk, today=world["today"])
    rows = [
        (r["school"], r["class_name"], r["students"], r["without_contact"], r["without_admin"]) for r in data["classes"]
    ]
    assert rows == [("甲校", "一班", 3, 1, 2), ("甲校", "二班", 2, 1, 1)]  # the inactive student is not counted
    assert data["students"] == {"students": 5, "without_contact": 2, "without_admin": 3}


def test_bindings_per_local_day(world):
    today = world["today"]
    data = dashboard_data(school_id=world["a"].pk, today=today)
    days = [row["day"] for row in data["bindings"]]
    assert (
        len(days) == DAYS
        and days[0] == (today - timedelta(days=DAYS - 1)).isoformat()
        and days[-1] == today.isoformat()
    )
    nonzero = {row["day"]: row["bindings"] for row in data["bindings"] if row["bindings"]}
    assert nonzero == {
        today.isoformat(): 1,  # 00:30 local, still "yesterday" in UTC
        (today - timedelta(days=1)).isoformat(): 1,
        (today - timedelta(days=DAYS - 1)).isoformat(): 1,
    }  # the binding on the day before the period is left out
    assert data["period"] == {
        "first_day": days[0], "last_day": days[-1], "days": DAYS, "timezone": "Asia/Shanghai",
    }  # fmt: skip


def test_share_links_by_effective_state(world):
    data = dashboard_data(school_id=world["a"].pk, today=world["today"])
    assert data["share_links"] == {
        "active": 1,
        "expired": 2,
        "revoked": 1,
    }  # a link past expiry is expired before the sweep


def test_calls_and_connected_minutes_per_local_day(world):
    today = world["today"]
    data = dashboard_data(school_id=world["a"].pk, today=today)
    assert [row["day"] for row in data["calls"]] == [row["day"] for row in data["bindings"]]
    nonzero = {
        row["day"]: (row["calls"], row["answered"], row["connected_seconds"], row["connected_minutes"])
        for row in data["calls"]
        if row["calls"]
    }
    assert nonzero == {
        today.isoformat(): (3, 2, 180, 3.0),  # billed 120 s + keepTime 60 s (no finishVoip) + a timeout
        (today - timedelta(days=1)).isoformat(): (1, 1, 300, 5.0),
        (today - timedelta(days=DAYS - 1)).isoformat(): (1, 0, 0, 0.0),
    }
    assert data["calls_total"] == {"calls": 5, "answered": 3, "connected_seconds": 480, "connected_minutes": 8.0}


def test_top_devices_by_calls_then_minutes(world):
    data = dashboard_data(school_id=world["a"].pk, today=world["today"])
    rows = [(r["label"], r["calls"], r["connected_minutes"]) for r in data["top_devices"]]
    # 二楼 and 一楼 have 2 calls each in the period: the one with more minutes first; 三楼's old call is outside
    assert rows == [("二楼 (SN-DASH-2)", 2, 5.0), ("一楼 (SN-DASH-1)", 2, 3.0), ("三楼 (SN-DASH-3)", 1, 0.0)]


def test_top_devices_are_ten(world):
    school = world["a"]
    student = world["students"]["s1"]
    for n in range(12):
        make_call(
            student=student,
            device=DeviceFactory(school=school),
            started_at=local(world["today"], 12, n),
            keep=n,
            billed=n,
        )
    assert len(dashboard_data(school_id=school.pk, today=world["today"])["top_devices"]) == 10


def test_superusers_see_all_schools_added_up(world):
    data = dashboard_data(school_id=None, today=world["today"])
    rows = [
        (r["school"], r["class_name"], r["students"], r["without_contact"], r["without_admin"]) for r in data["classes"]
    ]
    assert rows == [
        ("乙校", "一班", 1, 1, 1),
        ("乙校", "三班", 1, 0, 0),
        ("甲校", "一班", 3, 1, 2),
        ("甲校", "二班", 2, 1, 1),
    ]
    assert data["share_links"] == {"active": 2, "expired": 2, "revoked": 1}
    assert data["calls_total"]["calls"] == 6 and data["calls_total"]["connected_seconds"] == 510
    assert sum(row["bindings"] for row in data["bindings"]) == 4
    assert {r["school"] for r in data["top_devices"]} == {"甲校", "乙校"}


def test_a_school_never_sees_another_schools_numbers(world):
    data = dashboard_data(school_id=world["b"].pk, today=world["today"])
    assert [(r["class_name"], r["students"], r["without_contact"]) for r in data["classes"]] == [
        ("一班", 1, 1),
        ("三班", 1, 0),
    ]
    assert data["share_links"] == {"active": 1, "expired": 0, "revoked": 0}
    assert data["calls_total"]["calls"] == 1
    assert [r["label"] for r in data["top_devices"]] == ["乙校门口 (SN-DASH-B)"]
    assert dashboard_data(school_id=-1)["students"]["students"] == 0  # a staff user without a school: nothing


def test_the_number_of_queries_does_not_grow_with_the_data(world):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            dashboard_data(school_id=world["a"].pk, today=world["today"])
        return len(captured)

    small = queries()
    school, today = world["a"], world["today"]
    devices = [DeviceFactory(school=school) for _ in range(15)]
    for n in range(60):  # 10× the students, contacts, links and calls, over more classes and days
        student = StudentFactory(school=school, class_name=f"{n % 7 + 3}班")
        if n % 3:
            contact = ContactFactory(
                student=student,
                role=Contact.Role.ADMIN if n % 2 else 0,
                bound_at=local(today - timedelta(days=n % 20), 9),
            )
            now = timezone.now()
            make_link(
                student,
                contact.parent,
                created_at=now - timedelta(hours=2),
                expires_at=now + timedelta(hours=(-1, 1, 2)[n % 3]),
            )
        make_call(
            student=student,
            device=devices[n % 15],
            started_at=local(today - timedelta(days=n % 25), 12),
            keep=n,
            billed=n,
        )
    assert queries() == small <= 5


# ---------------------------------------------------------------- JSON endpoint and scoping


def test_json_endpoint_needs_a_staff_login(client, world):
    response = client.get(JSON_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(User.objects.create_user("parent-ish", password="pw"))  # not staff
    response = client.get(JSON_URL)
    assert response.status_code in (302, 403) and b"students" not in response.content
    client.force_login(UserFactory(username="staff-without-school"))  # staff, no StaffMembership
    assert client.get(JSON_URL).status_code == 403


def test_json_endpoint_returns_the_staff_schools_dashboard(client, world):
    client.force_login(staff_user(world["a"]))
    response = client.get(JSON_URL)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == dashboard_data(school_id=world["a"].pk)
    assert "乙校" not in response.content.decode("unicode_escape") and "SN-DASH-B" not in response.content.decode()


def test_json_endpoint_of_a_superuser_adds_up_every_school(client, world):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    assert client.get(JSON_URL).json() == dashboard_data(school_id=None)


# ---------------------------------------------------------------- the index page


def test_index_renders_tables_with_links_and_local_charts(client, world):
    client.force_login(staff_user(world["a"]))
    response = client.get(INDEX_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="portal-dashboard"' in page and 'data-url="/admin/dashboard.json"' in page
    assert page.count("<canvas") == 5
    assert 'class="app-schools' in page or "app-schools" in page  # the stock app list is kept
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page)
    assert "/static/portal/vendor/chart.umd.min.js" in scripts and "/static/portal/dashboard.js" in scripts
    assert not [src for src in scripts if "http" in src or src.startswith("//")]  # nothing from another site
    assert not re.search(r"<link[^>]*href=\"(https?:)?//", page)
    assert finders.find("portal/vendor/chart.umd.min.js") and finders.find("portal/dashboard.js")

    dashboard = response.context["dashboard"]
    first_class = dashboard["classes"][0]
    url = first_class["without_contact_url"]
    assert url.startswith("/admin/schools/student/?class_name=") and "has_contacts=no" in url
    assert f'<a href="{html.escape(url)}" class="dashboard-without-contact">1</a>' in page
    assert f'class="dashboard-calls">{dashboard["calls_total"]["calls"]}</a>' in page  # 5 calls in 30 days
    assert dashboard["calls_total"]["calls"] == 5
    assert "乙校" not in page and "SN-DASH-B" not in page  # school B is nowhere


def test_dashboard_links_list_exactly_the_counted_rows(client, world):
    client.force_login(staff_user(world["a"]))
    dashboard = client.get(INDEX_URL).context["dashboard"]
    s = world["students"]

    def listed(url):
        response = client.get(url)
        assert response.status_code == 200, url
        return set(response.context["cl"].queryset)

    first = dashboard["classes"][0]
    assert first["class_name"] == "一班"
    assert listed(first["without_contact_url"]) == {s["s3"]}
    assert listed(first["without_admin_url"]) == {s["s2"], s["s3"]}
    assert listed(first["students_url"]) == {s["s1"], s["s2"], s["s3"]}  # active students only
    assert listed(dashboard["students"]["without_contact_url"]) == {s["s3"], s["s5"]}

    today = {day["day"]: day for day in dashboard["days"]}[world["today"].isoformat()]
    assert dashboard["days"][0] is today  # newest day first
    assert len(listed(today["calls_url"])) == today["calls"] == 3
    assert len(listed(today["bindings_url"])) == today["bindings"] == 1
    assert len(listed(dashboard["calls_total"]["calls_url"])) == 5
    assert client.get(today["minutes_url"]).context["usage_total"]["connected_minutes"] == 3
    for state, count in dashboard["share_links"].items():
        assert len(listed(dashboard["share_links_urls"][state])) == count, state
    top = dashboard["top_devices"][0]
    assert len(listed(top["calls_url"])) == top["calls"] == 2


def test_superuser_links_name_the_school(client, world):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    dashboard = client.get(INDEX_URL).context["dashboard"]
    b_class = next(r for r in dashboard["classes"] if r["school"] == "乙校" and r["class_name"] == "一班")
    assert f"school__id__exact={world['b'].pk}" in b_class["without_contact_url"]
    assert set(client.get(b_class["without_contact_url"]).context["cl"].queryset) == {world["students"]["b1"]}


def test_numbers_are_not_linked_to_changelists_the_user_may_not_view(client, world):
    client.force_login(staff_user(world["a"], app_labels=("calls",)))
    response = client.get(INDEX_URL)
    dashboard = response.context["dashboard"]
    assert dashboard["classes"][0]["without_contact_url"] is None and dashboard["share_links_urls"]["active"] is None
    assert dashboard["calls_total"]["calls_url"]
    page = response.content.decode()
    assert '<span class="dashboard-without-contact">1</span>' in page and "/admin/schools/student/?" not in page


def test_staff_without_a_school_get_no_dashboard(client, world):
    client.force_login(UserFactory(username="staff-without-school"))
    response = client.get(INDEX_URL)
    assert response.status_code == 200 and response.context["dashboard"] is None
    assert "portal-dashboard" not in response.content.decode() and "chart.umd" not in response.content.decode()


def test_site_titles(client, world):
    client.force_login(staff_user(world["a"]))
    page = client.get(INDEX_URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "School VoIP portal" in page


def test_the_demo_staff_sees_the_demo_calls():
    call_command("load_demo", password="x")
    call_command("load_demo_calls")
    client = Client()
    login = client.post("/admin/login/", {"username": DEMO_STAFF_USERNAME, "password": "x", "next": INDEX_URL})
    assert login.status_code == 302
    response = client.get(INDEX_URL)
    assert response.status_code == 200
    dashboard = response.context["dashboard"]
    assert dashboard["calls_total"]["calls"] > 0 and dashboard["calls_total"]["connected_minutes"] > 0
    assert dashboard["students"]["without_contact"] > 0 and len(dashboard["classes"]) == 30
    assert (
        dashboard["top_devices"]
        and f'class="dashboard-calls">{dashboard["calls_total"]["calls"]}</a>' in response.content.decode()
    )


def test_classes_are_in_natural_order():
    school = SchoolFactory()
    for name in ("二年级10班", "十年级1班", "三年级1班", "二年级2班", "一年级1班"):
        StudentFactory(school=school, class_name=name)
    classes = [row["class_name"] for row in dashboard_data(school_id=school.pk)["classes"]]
    assert classes == ["一年级1班", "二年级2班", "二年级10班", "三年级1班", "十年级1班"]
