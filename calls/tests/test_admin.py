"""The calls admin: every page renders, call records are read-only, staff see their school only,
and the usage report (calls.selectors.reports) adds up calls, minutes and traffic per local day."""

from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls.models import (
    CallFailure,
    CallingWindow,
    CallPolicy,
    CallRecord,
    CallUsage,
    DeviceAuthorization,
    DeviceAuthorizationHistory,
    InvariantCheckRun,
    StudentCallPolicy,
)
from calls.tests.factories import local, make_call
from contacts.tests.factories import ParentFactory
from core.masking import mask_openid
from schools.tests.factories import (
    DeviceFactory,
    DeviceGroupFactory,
    SchoolFactory,
    StaffMembershipFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db

USAGE_URL = "/admin/calls/callusage/"


@pytest.fixture
def superuser_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def staff_client(client, school, codenames):
    membership = StaffMembershipFactory(school=school)
    membership.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="calls", codename__in=codenames)
    )
    client.force_login(membership.user)
    return client


def usage_rows(response):
    """[(day, label, calls, answered, connected, billed, traffic)] of the usage page's context."""
    return [
        (d["day"], r["label"], r["calls"], r["answered"], r["connected_minutes"], r["billed_minutes"], r["traffic_mb"])
        for d in response.context["usage_days"]
        for r in d["rows"]
    ]


# ---------------------------------------------------------------- every page


def test_every_calls_model_is_registered_and_its_changelist_renders_with_data(superuser_client):
    school = SchoolFactory()
    group = DeviceGroupFactory(school=school)
    device = DeviceFactory(school=school, group=group)
    student = StudentFactory(school=school)
    parent = ParentFactory(openid="oAuthorizedParent")
    CallPolicy.objects.create(school=school, time_limit=3217)
    StudentCallPolicy.objects.create(student=student, daily_minutes=4173)
    CallingWindow.objects.create(school=school, weekday=0, start_time=time(7), end_time=time(8))
    DeviceAuthorization.objects.create(parent=parent, group=group, status=1, source="request")
    DeviceAuthorizationHistory.objects.create(parent=parent, device=device, status=1, source="reconcile")
    call = make_call(student=student, device=device, keep=90, billed=88)
    InvariantCheckRun.objects.create(problems=5309)

    expected = {
        CallPolicy: "3217",
        StudentCallPolicy: "4173",
        CallingWindow: "07:00",
        DeviceAuthorization: "oAut…rent",  # openids masked outside the parent's page
        DeviceAuthorizationHistory: "oAut…rent",
        CallRecord: mask_openid(call.openid),
        CallUsage: school.name,
        CallFailure: "",
        InvariantCheckRun: "5309",
    }
    registered = {model for model in admin.site._registry if model._meta.app_label == "calls"}
    assert registered == set(expected)
    for model, text in expected.items():
        response = superuser_client.get(reverse(f"admin:calls_{model._meta.model_name}_changelist"))
        assert response.status_code == 200, model
        assert text in response.content.decode(), model


def test_call_records_are_read_only_with_the_events_shown(superuser_client):
    student = StudentFactory()
    call = make_call(student=student, device=DeviceFactory(school=student.school), keep=30, billed=29)
    url = reverse("admin:calls_callrecord_change", args=[call.pk])
    page = superuser_client.get(url).content.decode()
    assert "startVoip" in page and "<pre" in page
    assert 'name="events"' not in page and 'name="keep_time"' not in page  # nothing editable
    assert superuser_client.post(url, {"keep_time": 1}).status_code == 403
    assert superuser_client.get(reverse("admin:calls_callrecord_add")).status_code == 403
    call.refresh_from_db()
    assert call.keep_time == 30


def test_call_record_search_and_filters(superuser_client):
    school = SchoolFactory()
    device, other_device = DeviceFactory(school=school), DeviceFactory(school=school)
    mine = StudentFactory(school=school, name="搜索学生", class_name="一年级1班")
    other = StudentFactory(school=school, name="别的学生", class_name="二年级2班")
    hit = make_call(student=mine, device=device, openid="oSearchMe")
    miss = make_call(student=other, device=other_device, outcome="timeout", openid="oOther")
    url = reverse("admin:calls_callrecord_changelist")
    for params in (
        {"q": hit.room_id},
        {"q": mine.user_id},
        {"q": "搜索学生"},
        {"q": "oSearchMe"},
        {"class": "一年级1班"},
        {"device__id__exact": device.pk},
        {"outcome__exact": "completed"},
    ):
        response = superuser_client.get(url, params)
        assert list(response.context["cl"].result_list) == [hit], params
        page = response.content.decode()
        assert mask_openid("oSearchMe") in page and mask_openid("oOther") not in page, params
    assert set(superuser_client.get(url).context["cl"].result_list) == {hit, miss}


# ---------------------------------------------------------------- usage report


@pytest.fixture
def usage_data():
    """Yesterday (local): a voice call billed 120 s, a video call of 60 s (no finishVoip), one unanswered."""
    school = SchoolFactory(name="用量小学")
    device = DeviceFactory(school=school, device_name="一楼东侧", sn="SN-USAGE-1")
    student = StudentFactory(school=school, class_name="三年级2班")
    yesterday = timezone.localdate() - timedelta(days=1)
    # 00:30 in Shanghai is 16:30 UTC the day before: the report must count it on the local date.
    make_call(
        student=student, device=device, room_type="voice", keep=122, billed=120, started_at=local(yesterday, 0, 30)
    )
    make_call(student=student, device=device, room_type="video", keep=60, billed=None, started_at=local(yesterday, 18))
    make_call(student=student, device=device, outcome="timeout", started_at=local(yesterday, 19))
    return {"school": school, "device": device, "student": student, "day": yesterday}


@pytest.mark.parametrize(
    "by,label",
    [("school", "用量小学"), ("device", "一楼东侧 (SN-USAGE-1)"), ("class", "三年级2班"), (None, "用量小学")],
)
def test_usage_page_adds_up_calls_minutes_and_traffic(superuser_client, usage_data, by, label):
    response = superuser_client.get(USAGE_URL, {"by": by} if by else {})
    assert response.status_code == 200
    # 3 calls, 2 answered; connected 120 + 60 s = 3.0 min; billed 120 s = 2.0 min; traffic 2×2 + 1×20 = 24 MB
    assert usage_rows(response) == [(usage_data["day"], label, 3, 2, Decimal("3.0"), Decimal("2.0"), Decimal("24.0"))]
    page = response.content.decode()
    assert label in page
    for css, value in (("calls", "3"), ("answered", "2"), ("connected", "3.0"), ("billed", "2.0"), ("traffic", "24.0")):
        assert f'<td class="num usage-{css}">{value}</td>' in page
    # The assumption is stated (in the page's language; the figures are the same in any).
    assert (response.context["voice_mb_per_minute"], response.context["video_mb_per_minute"]) == (2, 20)
    assumption = page[page.index('class="help usage-assumption"') :].split("</p>", 1)[0]
    assert "2 MB" in assumption and "20 MB" in assumption and "10–30 MB" in assumption and "Asia/Shanghai" in assumption
    current = response.context["usage_by"]
    assert current == (by or "school")
    for key in ("school", "device", "class"):  # the switch links the other groupings
        assert (f'class="usage-by-{key}"' in page) == (key != current)


def test_usage_page_splits_days_groups_and_honours_date_filters(superuser_client, usage_data):
    student, device, yesterday = usage_data["student"], usage_data["device"], usage_data["day"]
    other_class = StudentFactory(school=student.school, class_name="五年级1班")
    make_call(student=other_class, device=device, keep=30, billed=30, started_at=local(yesterday, 12))
    make_call(student=student, device=device, keep=600, billed=600, started_at=local(yesterday - timedelta(days=1), 20))
    make_call(student=student, device=device, keep=60, billed=60, started_at=local(yesterday - timedelta(days=20), 20))

    rows = usage_rows(superuser_client.get(USAGE_URL, {"by": "class"}))
    assert rows == [
        (yesterday, "三年级2班", 3, 2, Decimal("3.0"), Decimal("2.0"), Decimal("24.0")),
        (yesterday, "五年级1班", 1, 1, Decimal("0.5"), Decimal("0.5"), Decimal("1.0")),
        (yesterday - timedelta(days=1), "三年级2班", 1, 1, Decimal("10.0"), Decimal("10.0"), Decimal("20.0")),
    ]  # newest day first; the call 20 days ago is outside the default 7 days
    assert len(usage_rows(superuser_client.get(USAGE_URL, {"days": "30"}))) == 3
    only_yesterday = {
        "started_at__gte": local(yesterday, 0).isoformat(),
        "started_at__lt": local(yesterday + timedelta(days=1), 0).isoformat(),
    }
    rows = usage_rows(superuser_client.get(USAGE_URL, only_yesterday))
    assert [(r[0], r[2]) for r in rows] == [(yesterday, 4)]
    rows = usage_rows(superuser_client.get(USAGE_URL, {"room_type__exact": "video"}))
    assert [(r[2], r[4], r[6]) for r in rows] == [(1, Decimal("1.0"), Decimal("20.0"))]


@pytest.mark.parametrize("by", ["school", "device", "class"])
def test_usage_page_runs_a_bounded_number_of_queries(superuser_client, django_assert_max_num_queries, by):
    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            assert superuser_client.get(USAGE_URL, {"by": by}).status_code == 200
        return len(queries)

    schools = [SchoolFactory(), SchoolFactory()]
    students = [StudentFactory(school=schools[n % 2], class_name=f"{n}班") for n in range(4)]
    devices = [DeviceFactory(school=students[n].school) for n in range(4)]
    make_call(student=students[0], device=devices[0], keep=60, billed=60)
    few = page_queries()
    today = timezone.localdate()
    for n in range(60):
        make_call(
            student=students[n % 4], device=devices[n % 4], room_type="video" if n % 5 else "voice",
            keep=n, billed=n, started_at=local(today - timedelta(days=n % 5), 8, n % 60),
        )  # fmt: skip
    with django_assert_max_num_queries(12):
        response = superuser_client.get(USAGE_URL, {"by": by})
    days = response.context["usage_days"]
    assert len(days) == 5 and sum(len(day["rows"]) for day in days) > 5
    assert sum(day["total"]["calls"] for day in days) == 61
    assert page_queries() == few


# ---------------------------------------------------------------- staff scoping


@pytest.fixture
def two_schools():
    data = {}
    for key, name in (("mine", "本校小学"), ("theirs", "外校小学")):
        school = SchoolFactory(name=name)
        group = DeviceGroupFactory(school=school, group_id=f"grp_{key}")
        device = DeviceFactory(school=school, group=group, device_name=f"{key}电话")
        ungrouped = DeviceFactory(school=school, device_name=f"{key}单机")
        student = StudentFactory(school=school, name=f"{name}学生", class_name=f"{key}班")
        by_group, by_device = ParentFactory(openid=f"oGroup_{key}"), ParentFactory(openid=f"oDevice_{key}")
        DeviceAuthorization.objects.create(parent=by_group, group=group, status=1, source="request")
        DeviceAuthorization.objects.create(parent=by_device, device=ungrouped, status=1, source="request")
        DeviceAuthorizationHistory.objects.create(parent=by_group, group=group, status=1, source="request")
        DeviceAuthorizationHistory.objects.create(parent=by_device, device=ungrouped, status=1, source="request")
        call = make_call(student=student, device=device, keep=60, billed=60, openid=f"oCall_{key}")
        data[key] = {"school": school, "call": call}
    return data


def test_staff_see_only_their_schools_call_records(client, two_schools):
    staff_client(client, two_schools["mine"]["school"], ["view_callrecord"])
    page = client.get(reverse("admin:calls_callrecord_changelist")).content.decode()
    assert mask_openid("oCall_mine") in page and "mine电话" in page and "mine班" in page
    assert (
        mask_openid("oCall_theirs") not in page and "theirs电话" not in page and "theirs班" not in page
    )  # rows and filter choices
    theirs = two_schools["theirs"]["call"]
    assert client.get(reverse("admin:calls_callrecord_change", args=[theirs.pk])).status_code != 200
    mine = two_schools["mine"]["call"]
    assert client.get(reverse("admin:calls_callrecord_change", args=[mine.pk])).status_code == 200


@pytest.mark.parametrize("model_name", ["deviceauthorization", "deviceauthorizationhistory"])
def test_staff_see_authorizations_of_their_devices_and_groups_only(client, two_schools, model_name):
    staff_client(client, two_schools["mine"]["school"], [f"view_{model_name}"])
    response = client.get(reverse(f"admin:calls_{model_name}_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        mask_openid("oGroup_mine") in page and mask_openid("oDevice_mine") in page
    )  # through the group and through the device
    assert mask_openid("oGroup_theirs") not in page and mask_openid("oDevice_theirs") not in page
    other = DeviceAuthorization if model_name == "deviceauthorization" else DeviceAuthorizationHistory
    theirs = other.objects.filter(parent__openid="oGroup_theirs").get()
    assert client.get(reverse(f"admin:calls_{model_name}_change", args=[theirs.pk])).status_code != 200


def test_superusers_see_every_schools_authorizations(superuser_client, two_schools):
    page = superuser_client.get(reverse("admin:calls_deviceauthorization_changelist")).content.decode()
    assert all(
        mask_openid(openid) in page for openid in ("oGroup_mine", "oDevice_mine", "oGroup_theirs", "oDevice_theirs")
    )


def test_staff_see_only_their_schools_usage(client, two_schools):
    staff_client(client, two_schools["mine"]["school"], ["view_callusage"])
    for by in ("school", "device", "class"):
        response = client.get(USAGE_URL, {"by": by})
        assert response.status_code == 200
        assert [r[2] for r in usage_rows(response)] == [1], by
        page = response.content.decode()
        assert "本校小学" in page and "外校小学" not in page and "theirs" not in page, by


def test_staff_without_the_usage_permission_do_not_see_the_report(client, two_schools):
    staff_client(client, two_schools["mine"]["school"], ["view_callrecord"])
    assert client.get(USAGE_URL).status_code == 403


def test_usage_by_class_lists_classes_in_school_order(superuser_client, usage_data):
    device, yesterday = usage_data["device"], usage_data["day"]
    for class_name in ["二年级10班", "一年级2班", "二年级2班", "六年级1班"]:
        student = StudentFactory(school=usage_data["school"], class_name=class_name)
        make_call(student=student, device=device, keep=30, billed=30, started_at=local(yesterday, 12))
    labels = [row[1] for row in usage_rows(superuser_client.get(USAGE_URL, {"by": "class"}))]
    assert labels == ["一年级2班", "二年级2班", "二年级10班", "三年级2班", "六年级1班"]


# ---------------------------------------------------------------- initByCaller failures


def failed(*, student, device, err_code, started_at):
    call = make_call(student=student, device=device, outcome="failed", started_at=started_at)
    CallRecord.objects.filter(pk=call.pk).update(err_code=err_code)
    return call


def test_init_failures_are_counted_per_device_day_and_errcode_for_the_staffs_school_only(client):
    school, other = SchoolFactory(), SchoolFactory()
    day = timezone.localdate() - timedelta(days=1)
    east = DeviceFactory(school=school, device_name="东楼", sn="SN-EAST")
    west = DeviceFactory(school=school, device_name="西楼", sn="SN-WEST")
    student = StudentFactory(school=school)
    for device, err_code, hour in [(east, 8, 9), (east, 9, 10), (east, 9, 23), (west, 9300004, 12)]:
        failed(student=student, device=device, err_code=err_code, started_at=local(day, hour))
    failed(student=student, device=east, err_code=8, started_at=local(day - timedelta(days=1), 9))
    make_call(student=student, device=east, started_at=local(day, 11))  # a completed call is no failure
    foreign = StudentFactory(school=other)
    failed(
        student=foreign, device=DeviceFactory(school=other, device_name="外校"), err_code=9, started_at=local(day, 9)
    )
    staff_client(client, school, ["view_callfailure"])

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:calls_callfailure_changelist"), {"days": "30"})
    assert response.status_code == 200
    newest, older = response.context["failure_days"]
    assert newest["day"] == day and older["day"] == day - timedelta(days=1)
    assert [code for code, _meaning in newest["err_codes"]] == [8, 9, 9300004]
    assert dict(newest["err_codes"])[8] == "openid has not granted scope.voip"
    assert [(r["label"], r["counts"], r["total"]) for r in newest["rows"]] == [
        ("东楼 (SN-EAST)", [1, 2, 0], 3),
        ("西楼 (SN-WEST)", [0, 0, 1], 1),
    ]
    assert newest["total"] == 4 and older["total"] == 1
    page = response.content.decode()
    assert "外校" not in page and "errCode 9300004" in page
    report_queries = [q for q in queries.captured_queries if "err_code" in q["sql"] and "GROUP BY" in q["sql"]]
    assert len(report_queries) == 1


def test_usage_page_draws_the_days_totals_as_a_chart_series(superuser_client, usage_data):
    yesterday = usage_data["day"]
    earlier = yesterday - timedelta(days=2)
    make_call(
        student=usage_data["student"], device=usage_data["device"], keep=60, billed=60, started_at=local(earlier, 9)
    )
    response = superuser_client.get(USAGE_URL)
    series = response.context["usage_series"]
    assert [day["day"] for day in series] == [(earlier + timedelta(days=n)).isoformat() for n in range(3)]
    assert [(d["calls"], d["connected_minutes"], d["traffic_mb"]) for d in series] == [
        (1, 1.0, 2.0),
        (0, 0.0, 0.0),  # a day without calls is drawn as 0, not skipped
        (3, 3.0, 24.0),
    ]
    page = response.content.decode()
    assert '<script id="usage-series" type="application/json">' in page and 'id="usage-chart"' in page
    assert "portal/usage.js" in page and "portal/vendor/chart.umd.min.js" in page


def test_the_device_page_shows_its_last_calls_and_its_init_failures(superuser_client):
    device = DeviceFactory(device_name="一楼东侧")
    student = StudentFactory(school=device.school, name="王子涵")
    now = timezone.now()
    make_call(student=student, device=device, keep=90, billed=90, started_at=now - timedelta(hours=1))
    for err_code, n in [(9, 3), (8, 1)]:
        for _ in range(n):
            failed(student=student, device=device, err_code=err_code, started_at=now - timedelta(hours=2))
    page = superuser_client.get(reverse("admin:schools_device_change", args=[device.pk])).content.decode()
    assert page.count("王子涵") >= 5  # the five calls, newest first
    assert '<meter min="0" max="3" value="3"></meter>' in page and '<meter min="0" max="3" value="1"></meter>' in page
    assert page.index("错误码 9</th>") < page.index("错误码 8</th>")  # most frequent first, labelled in Chinese
    assert f"?device__id__exact={device.pk}&amp;days=30" in page
