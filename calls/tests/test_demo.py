"""Demo call history (calls.demo, ``manage.py load_demo_calls``): realistic, idempotent, on the usage page."""

from collections import Counter
from datetime import datetime, time

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.demo import demo_calls_load
from calls.models import CallingWindow, CallPolicy, CallRecord, DeviceAuthorization, DeviceAuthorizationHistory
from calls.services.call_events import CallEvent, call_event_ingest
from contacts.models import Contact, Parent
from core.local_time import local_tz
from schools.demo.loader import demo_school_load
from schools.models import ApiClient, School

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 12, 20, 30, tzinfo=local_tz())  # a Thursday: the 5 days include a weekend


@pytest.fixture
def demo_school():
    return demo_school_load(staff_password="demo-pass-123").school


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            CallRecord,
            Parent,
            Contact,
            DeviceAuthorization,
            DeviceAuthorizationHistory,
            CallPolicy,
            CallingWindow,
        )
    }


def in_window(windows, moment) -> bool:
    local = timezone.localtime(moment, local_tz())
    return any(w.weekday == local.weekday() and w.start_time <= local.time() < w.end_time for w in windows)


def test_demo_calls_cover_several_days_inside_the_calling_windows(demo_school):
    summary = demo_calls_load(days=5, now=NOW)
    calls = list(CallRecord.objects.filter(school=demo_school).select_related("student", "device", "parent"))
    assert summary["calls"] == len(calls) >= 300
    days = {timezone.localtime(c.started_at, local_tz()).date() for c in calls}
    assert len(days) == 5 and max(days) == NOW.date()
    assert all(c.started_at <= NOW for c in calls)

    windows = list(CallingWindow.objects.filter(school=demo_school))
    weekday = {(w.start_time, w.end_time) for w in windows if w.weekday == 0}
    assert weekday == {(time(7), time(8)), (time(12), time(13, 30)), (time(16, 30), time(21))}
    assert {(w.start_time, w.end_time) for w in windows if w.weekday == 6} == {(time(8), time(21))}
    assert CallPolicy.objects.filter(school=demo_school).exists()
    assert all(in_window(windows, c.started_at) for c in calls)

    outcomes = Counter(c.outcome for c in calls)
    assert outcomes["completed"] > len(calls) / 2
    assert all(outcomes[o] > 0 for o in ("timeout", "rejected", "cancelled", "busy"))
    assert 0.04 < sum(c.room_type == "video" for c in calls) / len(calls) < 0.2
    for c in calls:
        assert "startVoip" in c.events and "endVoip" in c.events
        assert c.room_id.startswith(f"demo-{timezone.localtime(c.started_at, local_tz()).date().isoformat()}-")
        if c.outcome == "completed":
            assert 30 <= c.keep_time <= 600 and c.answered_at is not None
            assert c.billed_seconds is None or 0 <= c.keep_time - c.billed_seconds <= 3
        else:
            assert c.keep_time == 0 and not c.billed_seconds
    assert any(c.billed_seconds is None for c in calls if c.outcome == "completed")  # some without finishVoip


def test_demo_callers_are_bound_parents_calling_by_the_rule_of_each_phones_mode(demo_school):
    demo_calls_load(days=3, now=NOW)
    parents = Parent.objects.filter(openid__startswith="oDemo")
    assert 150 <= parents.count() <= 300
    assert all(len(p.openid) == 28 and p.voip_scope_granted for p in parents)
    contacts = Contact.objects.filter(parent__in=parents)
    students = {c.student_id for c in contacts}
    assert len(students) == 150
    per_student = Counter(c.student_id for c in contacts)
    assert set(per_student.values()) <= {1, 2}
    assert Counter(c.student_id for c in contacts if c.role == Contact.Role.ADMIN) == Counter(
        dict.fromkeys(students, 1)
    )
    assert {c.relation for c in contacts} >= {"妈妈", "爸爸"}
    assert {c.bound_via for c in contacts} == {"admin", "share_link"}
    groups = set(demo_school.device_groups.values_list("pk", flat=True))
    authorized = set(
        DeviceAuthorization.objects.filter(status=1, source="request").values_list("parent_id", "group_id")
    )
    assert authorized == {(p.pk, g) for p in parents for g in groups}
    assert DeviceAuthorizationHistory.objects.count() == len(authorized)

    assert set(contacts.values_list("state", flat=True)) == {"confirmed"}  # bound at WeChat

    # Each call follows WeChat's rule of its phone's mode (REFERENCE.md §1a).
    bound = set(contacts.values_list("student_id", "parent_id"))
    modes = Counter()
    for call in CallRecord.objects.select_related("device", "parent"):
        assert (call.student_id, call.parent_id) in bound and call.openid == call.parent.openid
        modes[call.device.call_mode] += 1
        if call.device.call_mode == "face_pay":  # a contact with scope.voip; businessType 0 or 3
            assert call.device.group_id is None and call.business_type in (0, 3)
        else:  # the listener authorized the device's group; businessType 1
            assert (call.parent_id, call.device.group_id) in authorized and call.business_type == 1
    assert modes["face_pay"] > 0 and modes["hardware"] > modes["face_pay"]


def test_demo_events_derive_the_same_record_through_the_ingest_service(demo_school):
    """Replaying a demo call's events through calls.services gives the stored outcome and seconds."""
    demo_calls_load(days=3, now=NOW)
    client = ApiClient.objects.get(schools=demo_school)
    samples = {}
    for call in CallRecord.objects.select_related("device", "student").order_by("room_id"):
        kind = (call.outcome, call.billed_seconds is None)
        samples.setdefault(kind, call)
    assert len(samples) >= 6  # completed with and without finishVoip, and the four refusals
    for call in samples.values():
        for name, event in sorted(call.events.items(), key=lambda item: item[1]["received_at"]):
            replay = call_event_ingest(
                client=client,
                event=CallEvent(
                    room_id=f"replay-{call.room_id}", event_name=name, sn=call.device.sn, model_id=call.device.model_id,
                    user_id=call.student.user_id, openid=call.openid, room_type=call.room_type, data=event["data"],
                ),
            )  # fmt: skip
        fields = ("outcome", "room_type", "keep_time", "billed_seconds", "end_reason")
        assert [getattr(replay, f) for f in fields] == [getattr(call, f) for f in fields], call.room_id


def test_demo_calls_load_is_idempotent(demo_school):
    first = demo_calls_load(days=5, now=NOW)
    before = counts()
    again = demo_calls_load(days=5, now=NOW)
    assert counts() == before
    assert again["calls_created"] == 0 and again["authorizations_created"] == 0 and again["calls"] == first["calls"]
    # Later the same day only the calls that have happened since are added; the earlier ones stay as they were.
    rooms = dict(CallRecord.objects.values_list("room_id", "keep_time"))
    later = demo_calls_load(days=5, now=NOW.replace(hour=23))
    assert later["calls"] >= first["calls"]
    assert {
        room: keep for room, keep in CallRecord.objects.values_list("room_id", "keep_time") if room in rooms
    } == rooms


def test_load_demo_calls_needs_the_demo_school():
    assert not School.objects.filter(code="hdsy").exists()
    with pytest.raises(CommandError, match="load_demo"):
        call_command("load_demo_calls")


def test_usage_page_shows_the_demo_school_after_make_runs_loaders(client, capsys):
    call_command("load_demo", password="demo-pass-123")
    call_command("load_demo_calls")
    out = capsys.readouterr().out.strip().splitlines()[-1]
    total = CallRecord.objects.filter(school__code="hdsy").count()
    assert out.startswith("Demo calls (hdsy)") and f"{total} calls" in out
    call_command("load_demo_calls")
    assert "(0 new)" in capsys.readouterr().out and CallRecord.objects.count() == total

    client.force_login(User.objects.get(username="demo-admin"))  # the staff login `make run` prints
    response = client.get("/admin/calls/callusage/", {"days": "30"})
    assert response.status_code == 200
    assert "北京市海淀区实验小学" in response.content.decode()
    days = response.context["usage_days"]
    assert len(days) >= 3 and sum(day["total"]["calls"] for day in days) == total
    assert (
        sum(day["total"]["connected_minutes"] for day in days) > 0
        and sum(day["total"]["traffic_mb"] for day in days) > 0
    )
