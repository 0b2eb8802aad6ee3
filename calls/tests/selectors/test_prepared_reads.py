"""The device API's prepared reads (``core.prepared``) answer exactly what their QuerySets answer.

Every prepared builder of the hot paths — the vendor's device and student lookups, the check's
listener, the call plans, getIotBindContactList, the day's usage, the calling windows and
getvoipcontactlist — is run both ways, compiled once and through the ORM, for every argument of a
world of mixed cases (two schools, face-pay and hardware devices with and without a group,
inactive rows, contacts in every WeChat state, parents with and without scope.voip, live, stale
and revoked authorizations, calls today, yesterday and just now).
"""

from datetime import time, timedelta

import pytest
from django.db.models import Model
from django.utils import timezone

from calls.models import CallingWindow, CallPolicy, StudentCallPolicy
from calls.selectors import checks, clients, policy
from calls.tests.factories import DeviceAuthorizationFactory, make_call
from contacts.models import Contact
from contacts.selectors import contacts as contact_selectors
from contacts.tests.factories import ContactFactory, ParentFactory
from core.local_time import local_day_start
from schools.models import CallMode
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db


def _plain(value, depth=0):
    """A comparable picture of a result: a model's fields, its select_related objects (two levels:
    a one-to-one caches its way back) and annotations."""
    if isinstance(value, Model):
        picture = {f.attname: getattr(value, f.attname) for f in value._meta.concrete_fields}
        if depth < 2:
            picture["related"] = {n: _plain(obj, depth + 1) for n, obj in value._state.fields_cache.items()}
        picture["annotations"] = {a: getattr(value, a) for a in ("is_contact", "authorized") if hasattr(value, a)}
        return picture
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _same(query, **kwargs):
    prepared = query(**kwargs)
    assert _plain(prepared) == _plain(list(query.build(**kwargs))), (query.__name__, kwargs)
    return prepared


@pytest.fixture
def world():
    now = timezone.now()
    school, other, closed = SchoolFactory(), SchoolFactory(), SchoolFactory(is_active=False)
    CallPolicy.objects.create(school=school, time_limit=120, daily_minutes=10)
    CallingWindow.objects.create(school=school, weekday=2, start_time=time(12), end_time=time(13))
    group = DeviceGroupFactory(school=school)
    devices = [
        DeviceFactory(school=school, call_mode=CallMode.FACE_PAY),
        DeviceFactory(school=school, call_mode=CallMode.HARDWARE, group=group),
        DeviceFactory(school=school, call_mode=CallMode.HARDWARE),
        DeviceFactory(school=school, is_active=False),
        DeviceFactory(school=other),
        DeviceFactory(school=closed),
    ]
    students = [
        StudentFactory(school=school),
        StudentFactory(school=school),
        StudentFactory(school=school, is_active=False),
        StudentFactory(school=other),
        StudentFactory(school=closed),
    ]
    StudentCallPolicy.objects.create(student=students[1], time_limit=30)
    parents = [ParentFactory(), ParentFactory(voip_scope_granted=False), ParentFactory(), ParentFactory()]
    for student in students:
        states = [Contact.State.CONFIRMED, Contact.State.CONFIRMED, Contact.State.PENDING, Contact.State.REMOVING]
        for n, (parent, state) in enumerate(zip(parents, states, strict=True)):
            ContactFactory(student=student, parent=parent, state=state, role=int(n == 0), call_order=3 - n)
    DeviceAuthorizationFactory(parent=parents[0], device=devices[2])
    DeviceAuthorizationFactory(parent=parents[1], group=group)
    DeviceAuthorizationFactory(parent=parents[2], device=devices[1], stale=True)
    DeviceAuthorizationFactory(parent=parents[3], group=group, status=0)
    for started_at, openid in ((now - timedelta(minutes=1), parents[0].openid), (now - timedelta(days=1), "oOld")):
        make_call(student=students[0], device=devices[0], started_at=started_at, keep=90, openid=openid)
    make_call(student=students[0], device=devices[0], started_at=now - timedelta(hours=1), keep=30)
    return {"now": now, "schools": [school, other, closed], "devices": devices, "students": students} | {
        "parents": parents
    }


def test_device_and_student_lookups(world):
    school_id_lists = [[s.pk for s in world["schools"][:1]], [s.pk for s in world["schools"]], []]
    for school_ids in school_id_lists:
        for device in world["devices"]:
            for query in (clients._active_device, clients._any_device):
                _same(query, school_ids=school_ids, sn=device.sn, model_id=device.model_id)
            _same(clients._active_device, school_ids=school_ids, sn=device.sn, model_id="another")
        for student in world["students"]:
            for query in (clients._active_student, clients._any_student):
                _same(query, school_ids=school_ids, user_id=student.user_id)
    hardware = world["devices"][1]
    found = clients._active_device(school_ids=school_id_lists[1], sn=hardware.sn, model_id=hardware.model_id)
    assert found[0].group.group_id and found[0].school == world["schools"][0]


def test_the_checks_and_plans(world):
    openids = [p.openid for p in world["parents"]] + ["oUnknown"]
    for student in world["students"]:
        _same(checks._face_pay_plan, student_id=student.pk)
        _same(checks._face_pay_ready, openid_list=openids, student_id=student.pk)
        _same(checks._face_pay_ready, openid_list=openids[1:3], student_id=student.pk)
        for device in world["devices"]:
            group_id = device.group_id
            _same(checks._hardware_plan, student_id=student.pk, device_id=device.pk, group_id=group_id)
            _same(checks._hardware_ready, openid_list=openids, device_id=device.pk, group_id=group_id)
            for openid in openids:
                _same(checks._listener, openid=openid, student_id=student.pk, device_id=device.pk, group_id=group_id)
    plan = checks._face_pay_plan(student_id=world["students"][0].pk)
    assert [c.parent.openid for c in plan] == [world["parents"][0].openid]  # served and with scope only


def test_usage_windows_and_the_vendors_contact_list(world):
    now = world["now"]
    for student in world["students"]:
        for since in (now - timedelta(minutes=2), local_day_start(now), now - timedelta(days=2)):
            _same(policy._calls_per_openid, student_id=student.pk, since=since, day_start=local_day_start(now))
        _same(contact_selectors._served_contacts, school_ids=[s.pk for s in world["schools"]], user_id=student.user_id)
    for school in world["schools"]:
        _same(policy._calling_windows, school_id=school.pk)
    rows = policy._calls_per_openid(
        student_id=world["students"][0].pk, since=now - timedelta(days=2), day_start=now - timedelta(hours=2)
    )
    assert {r["openid"]: r["used"] for r in rows} == {world["parents"][0].openid: 90, "oCaller": 30, "oOld": None}
