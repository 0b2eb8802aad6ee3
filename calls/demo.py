"""A few days of realistic call history for the demo school (``schools.demo.loader``).

About 150 students get 1–2 parents each (the first the admin contact, all bound at WeChat), every
parent authorizes the demo device groups, the school gets a default call policy and calling
windows, and each of the last ``days`` local days gets calls inside those windows, from the
hardware-mode phones of the groups (businessType 1) and the face-pay phones (the policy's 0 or
3): mostly completed (keepTime 30–600 s, billed 0–3 s less; a few without finishVoip, so not
billed yet), some not answered, rejected, cancelled or busy (0 s), about 10 % video. Events have the shape that
``calls.services.call_event_ingest`` stores.

Deterministic and idempotent: the students, parents and the calls of a date come from seeded
``random.Random`` instances, roomIds are ``demo-<date>-<n>``, and rows are inserted with
``bulk_create(ignore_conflicts=True)``, so running it again adds nothing (on the current day
it only adds the calls whose time has come since).
"""

import hashlib
import random
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from calls.services.authorizations import authorization_history
from contacts.models import Contact, Parent
from core.local_time import local_at, local_today
from schools.demo.loader import DEMO_SCHOOL_CODE
from schools.models import CallMode, Device, DeviceGroup, School, Student

from .models import (
    AuthorizationSource,
    AuthorizationStatus,
    BusinessType,
    CallingWindow,
    CallPolicy,
    CallRecord,
    DeviceAuthorization,
    DeviceAuthorizationHistory,
    RoomType,
)

SEED = 20260901
STUDENTS = 150
ROOM_PREFIX = "demo-"
RELATIONS = ["妈妈", "爸爸", "爷爷", "奶奶", "外公", "外婆"]
WEEKDAY_WINDOWS = [(time(7, 0), time(8, 0)), (time(12, 0), time(13, 30)), (time(16, 30), time(21, 0))]
WEEKEND_WINDOWS = [(time(8, 0), time(21, 0))]
# outcome → weight; unanswered calls have no connected time
OUTCOMES = {
    CallRecord.Outcome.COMPLETED: 72,
    CallRecord.Outcome.TIMEOUT: 10,
    CallRecord.Outcome.REJECTED: 5,
    CallRecord.Outcome.CANCELLED: 9,
    CallRecord.Outcome.BUSY: 4,
}
VIDEO_SHARE = 0.10
NO_FINISH_SHARE = 0.05  # completed calls without finishVoip: billed seconds unknown


def demo_openid(user_id: str, n: int) -> str:
    """``oDemo`` + 23 characters: 28 like a real openid, stable for a student and its n-th parent."""
    return "oDemo" + hashlib.sha256(f"{user_id}:{n}".encode()).hexdigest()[:23]


def _ensure_policy(school: School) -> list[CallingWindow]:
    CallPolicy.objects.get_or_create(school=school)
    windows = list(CallingWindow.objects.filter(school=school))
    if not windows:
        windows = CallingWindow.objects.bulk_create(
            [
                CallingWindow(school=school, weekday=weekday, start_time=start, end_time=end)
                for weekday in range(7)
                for start, end in (WEEKDAY_WINDOWS if weekday < 5 else WEEKEND_WINDOWS)
            ]
        )
    return windows


def _ensure_contacts(school: School, students: list[Student], now: datetime) -> dict[int, list[tuple[Parent, str]]]:
    """1–2 parents per student, the first the admin contact; returns student id → [(parent, relation)]."""
    rng = random.Random(f"{SEED}-contacts")
    wanted = []  # (student, openid, relation, is_admin)
    for student in students:
        relations = rng.sample(RELATIONS[:2], 2) if rng.random() < 0.55 else [rng.choice(RELATIONS)]
        wanted += [(student, demo_openid(student.user_id, i), relation, i == 0) for i, relation in enumerate(relations)]
    Parent.objects.bulk_create(
        [
            Parent(
                openid=openid,
                nickname=f"{student.name[0]}{relation}",
                voip_scope_granted=True,
                voip_scope_updated_at=now,
            )
            for student, openid, relation, _admin in wanted
        ],
        ignore_conflicts=True,
    )
    parents = Parent.objects.in_bulk([openid for _s, openid, _r, _a in wanted], field_name="openid")
    Contact.objects.bulk_create(
        [
            Contact(
                student=student,
                parent=parents[openid],
                role=Contact.Role.ADMIN if admin else Contact.Role.ORDINARY,
                relation=relation,
                bound_via=Contact.BoundVia.ADMIN_BINDING if admin else Contact.BoundVia.SHARE_LINK,
                state=Contact.State.CONFIRMED,  # bound at WeChat
                bound_at=now
                - timedelta(
                    days=rng.randint(6, 25), minutes=rng.randint(0, 600)
                ),  # before the 5 demo days, inside the dashboard's 30
            )
            for student, openid, relation, admin in wanted
        ],
        ignore_conflicts=True,
    )
    # Only the pairs that really are contacts (a student may already have had another admin).
    bound = set(
        Contact.objects.filter(student__in=students, parent__in=parents.values()).values_list("student_id", "parent_id")
    )
    by_student: dict[int, list[tuple[Parent, str]]] = {}
    for student, openid, relation, _admin in wanted:
        if (student.pk, parents[openid].pk) in bound:
            by_student.setdefault(student.pk, []).append((parents[openid], relation))
    return by_student


def _ensure_authorizations(parents: list[Parent], groups: list[DeviceGroup], now: datetime) -> int:
    """Each parent authorizes every demo group (wx.requestDeviceVoIP); history rows for new records only."""
    existing = set(
        DeviceAuthorization.objects.filter(parent__in=parents, group__in=groups).values_list("parent_id", "group_id")
    )
    missing = [
        DeviceAuthorization(
            parent=p, group=g, status=AuthorizationStatus.AUTHORIZED, source=AuthorizationSource.REQUEST, updated_at=now
        )
        for p in parents
        for g in groups
        if (p.pk, g.pk) not in existing
    ]
    DeviceAuthorization.objects.bulk_create(missing, ignore_conflicts=True)
    DeviceAuthorizationHistory.objects.bulk_create(
        [authorization_history(record, source=AuthorizationSource.REQUEST, now=now) for record in missing]
    )
    return len(missing)


def _event(at: datetime, data: dict | None = None, keep_time: int | None = None) -> dict:
    """An event as ``call_event_ingest`` stores it (received_at in UTC, like ``timezone.now()``)."""
    return {"data": data or {}, "received_at": at.astimezone(UTC).isoformat(), "keep_time": keep_time}


def _call(
    rng: random.Random,
    *,
    room_id: str,
    started_at: datetime,
    school,
    device,
    student,
    parent,
    remaining: int,
    time_limit: int,
    business_type: int,
) -> CallRecord:
    """One call and its events; ``remaining`` is what is left of the student's daily minutes (seconds)."""
    outcome = rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0]
    if outcome == CallRecord.Outcome.COMPLETED and remaining < 30:
        outcome = CallRecord.Outcome.CANCELLED  # the device would refuse the call; show it as given up
    room_type = RoomType.VIDEO if rng.random() < VIDEO_SHARE else RoomType.VOICE
    common = {"roomType": room_type, "businessType": business_type}
    events = {"startVoip": _event(started_at, {**common, "isCaller": True})}
    record = CallRecord(
        room_id=room_id,
        school=school,
        device=device,
        student=student,
        parent=parent,
        openid=parent.openid,
        room_type=room_type,
        business_type=business_type,
        outcome=outcome,
        started_at=started_at,
    )
    if outcome == CallRecord.Outcome.COMPLETED:
        answered_at = started_at + timedelta(seconds=rng.randint(3, 25))
        keep = min(rng.randint(30, 600), remaining, time_limit)
        hung_up_at = answered_at + timedelta(seconds=keep)
        billed = max(1, keep - rng.randint(0, 3))
        hang_up = {"keepTime": keep, "status": rng.choice(["endByCaller", "endByListener"])}
        if keep >= time_limit:
            hang_up = {"keepTime": keep, "status": "endByCaller", "origin": "timeLimit"}
        events["hangOnVoip"] = _event(answered_at)
        events["hangUpVoip"] = _event(hung_up_at, hang_up, keep)
        events["endVoip"] = _event(
            hung_up_at + timedelta(milliseconds=300), {**common, "keepTime": keep, "isCaller": True}, keep
        )
        if rng.random() < NO_FINISH_SHARE:
            billed = None  # a plugin older than 2.2.2 sends no finishVoip (FAQ 1.10)
        else:
            events["finishVoip"] = _event(
                hung_up_at + timedelta(seconds=rng.randint(1, 3)), {"keepTime": billed}, billed
            )
        record.answered_at, record.ended_at = answered_at, hung_up_at
        record.keep_time, record.billed_seconds = keep, billed
        record.end_reason = str(hang_up.get("origin") or hang_up["status"])
    else:
        name, after, data = {
            CallRecord.Outcome.TIMEOUT: ("timeout", 60, {}),
            CallRecord.Outcome.REJECTED: ("rejectVoip", rng.randint(3, 20), {}),
            CallRecord.Outcome.CANCELLED: ("cancelVoip", rng.randint(2, 25), {"status": "manual"}),
            CallRecord.Outcome.BUSY: ("busy", 1, {}),
        }[outcome]
        ended_at = started_at + timedelta(seconds=after)
        events[name] = _event(ended_at, data)
        events["endVoip"] = _event(
            ended_at + timedelta(milliseconds=300), {**common, "keepTime": 0, "isCaller": True}, 0
        )
        record.ended_at = ended_at
        record.end_reason = data.get("status", "")
    record.events = events
    return record


def _calls_of_day(
    day: date,
    *,
    now: datetime,
    school,
    windows,
    devices,
    students,
    contacts,
    daily_seconds: int,
    time_limit: int,
    face_pay_business_type: int,
) -> list[CallRecord]:
    """The calls of one local day: always the same for a date, those not yet started left out."""
    rng = random.Random(f"{SEED}-calls-{day.isoformat()}")
    todays = [w for w in windows if w.weekday == day.weekday()]
    if not todays:
        return []
    minutes = [(datetime.combine(day, w.end_time) - datetime.combine(day, w.start_time)).seconds // 60 for w in todays]
    count = rng.randint(100, 160) if day.weekday() < 5 else rng.randint(60, 100)
    used: dict[int, int] = {}
    calls = []
    for n in range(1, count + 1):
        window = rng.choices(todays, weights=minutes)[0]
        start = local_at(day, window.start_time)
        length = int(
            (datetime.combine(day, window.end_time) - datetime.combine(day, window.start_time)).total_seconds()
        )
        started_at = start + timedelta(seconds=rng.randrange(max(1, length - 60)))
        student = rng.choice(students)
        parent, _relation = rng.choice(contacts[student.pk])
        remaining = daily_seconds - used.get(student.pk, 0)
        device = rng.choice(devices)
        call = _call(
            rng,
            room_id=f"{ROOM_PREFIX}{day.isoformat()}-{n:04d}",
            started_at=started_at,
            school=school,
            device=device,
            student=student,
            parent=parent,
            remaining=remaining,
            time_limit=time_limit,
            business_type=face_pay_business_type if device.call_mode == CallMode.FACE_PAY else BusinessType.DEVICE,
        )
        used[student.pk] = used.get(student.pk, 0) + call.connected_seconds
        if (call.ended_at or started_at) <= now:
            calls.append(call)
    return calls


@transaction.atomic
def demo_calls_load(*, days: int = 5, now: datetime | None = None) -> dict:
    """Add ``days`` local days (today included) of call history to the demo school; idempotent.

    Needs the demo school (``load_demo``); raises ``School.DoesNotExist`` without it. Returns a
    summary: school code, demo parents, contacts, authorizations created, calls created and the
    demo school's demo call count and first/last local day.
    """
    now = now or timezone.now()
    school = School.objects.get(code=DEMO_SCHOOL_CODE)
    roster = list(Student.objects.active().for_school(school.pk).order_by("user_id"))
    students = random.Random(SEED).sample(roster, min(STUDENTS, len(roster)))
    contacts = _ensure_contacts(school, students, now)
    students = [s for s in students if contacts.get(s.pk)]
    parents = list({p.pk: p for pairs in contacts.values() for p, _r in pairs}.values())
    groups = list(DeviceGroup.objects.filter(school=school).order_by("group_id"))
    authorizations = _ensure_authorizations(parents, groups, now)
    windows = _ensure_policy(school)
    policy = CallPolicy.objects.get(school=school)
    # Hardware-mode calls come from grouped devices (those the parents' group authorizations
    # cover); face-pay phones call the student's contacts, who granted scope.voip.
    devices = list(
        Device.objects.active()
        .for_school(school.pk)
        .filter(Q(group__in=groups) | Q(call_mode=CallMode.FACE_PAY))
        .order_by("sn", "model_id")
    )

    calls = []
    if students and devices:
        today = local_today(now)
        for back in range(days):
            calls += _calls_of_day(
                today - timedelta(days=back),
                now=now,
                school=school,
                windows=windows,
                devices=devices,
                students=students,
                contacts=contacts,
                daily_seconds=(policy.daily_minutes or 24 * 60) * 60,
                time_limit=policy.time_limit,
                face_pay_business_type=policy.business_type,
            )
    before = CallRecord.objects.filter(school=school, room_id__startswith=ROOM_PREFIX).count()
    CallRecord.objects.bulk_create(calls, ignore_conflicts=True, batch_size=500)
    demo_calls = CallRecord.objects.filter(school=school, room_id__startswith=ROOM_PREFIX)
    span = demo_calls.aggregate(first=Min("started_at"), last=Max("started_at"))
    return {
        "school": school.code,
        "students": len(students),
        "parents": len(parents),
        "contacts": sum(len(pairs) for pairs in contacts.values()),
        "authorizations_created": authorizations,
        "calls_created": demo_calls.count() - before,
        "calls": demo_calls.count(),
        "first_day": local_today(span["first"]) if span["first"] else None,
        "last_day": local_today(span["last"]) if span["last"] else None,
    }
