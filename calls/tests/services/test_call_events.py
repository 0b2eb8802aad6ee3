"""Call records from onVoipEvent events: idempotent and independent of arrival order (REFERENCE.md §4)."""

import itertools
import random

import pytest

from calls.models import CallRecord, DeviceAuthorization
from calls.services.call_events import CallEvent, call_event_ingest
from calls.tests.factories import DeviceAuthorizationFactory
from contacts.tests.factories import ContactFactory
from core.errors import ApplicationError, Conflict, NotFound
from schools.models import OutboxEvent
from schools.tests.factories import ApiClientFactory, DeviceFactory, DeviceGroupFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def call():
    student = StudentFactory()
    group = DeviceGroupFactory(school=student.school)
    device = DeviceFactory(school=student.school, group=group)
    parent = ContactFactory(student=student).parent  # a listener is a parent of the device's school
    client = ApiClientFactory(schools=[student.school])
    return {"student": student, "device": device, "parent": parent, "group": group, "client": client}


def send(call, name, data=None, room="room-1", openid=None):
    event = CallEvent(
        room_id=room,
        event_name=name,
        sn=call["device"].sn,
        model_id=call["device"].model_id,
        user_id=call["student"].user_id,
        openid=openid or call["parent"].openid,
        data=data or {},
    )
    return call_event_ingest(client=call["client"], event=event)


ANSWERED = [
    ("startVoip", {}),
    ("hangOnVoip", {}),
    ("calling", {"keepTime": 30}),
    ("hangUpVoip", {"keepTime": 61, "status": "endByCaller", "origin": "timeLimit"}),
    ("endVoip", {"keepTime": 61, "roomType": "video", "businessType": 0}),
    ("finishVoip", {"keepTime": 60}),
]


def snapshot(record):
    return (
        record.outcome,
        record.keep_time,
        record.billed_seconds,
        record.end_reason,
        record.room_type,
        sorted(record.events),
    )


def test_answered_call_in_order(call):
    for name, data in ANSWERED:
        record = send(call, name, data)
    assert snapshot(record) == ("completed", 61, 60, "timeLimit", "video", sorted({n for n, _ in ANSWERED}))
    assert record.parent == call["parent"] and record.connected_seconds == 60


@pytest.mark.parametrize("seed", range(6))
def test_any_order_and_repeats_give_the_same_record(call, seed):
    deliveries = ANSWERED * 2
    random.Random(seed).shuffle(deliveries)
    for name, data in deliveries:
        send(call, name, data)
    record = CallRecord.objects.get()
    assert snapshot(record) == ("completed", 61, 60, "timeLimit", "video", sorted({n for n, _ in ANSWERED}))


@pytest.mark.parametrize(
    ("events", "outcome"),
    [
        ([("startVoip", {}), ("timeout", {})], "timeout"),
        ([("startVoip", {}), ("rejectVoip", {})], "rejected"),
        ([("startVoip", {}), ("busy", {})], "busy"),
        ([("startVoip", {}), ("cancelVoip", {"status": "manual"})], "cancelled"),
        (
            [("startVoip", {}), ("hangOnVoip", {}), ("abortVoip", {"keepTime": 12, "status": "abortByListener"})],
            "aborted",
        ),
        ([("startVoip", {}), ("hangOnVoip", {})], "answered"),
        ([("startVoip", {})], "started"),
    ],
)
def test_outcomes(call, events, outcome):
    for permutation in itertools.permutations(events):
        CallRecord.objects.all().delete()
        for name, data in permutation:
            record = send(call, name, data)
        assert record.outcome == outcome
    if outcome in ("timeout", "rejected", "busy", "cancelled"):
        assert record.keep_time == 0 and record.billed_seconds is None  # unanswered calls cost nothing


def test_calling_only_raises_keep_time(call):
    send(call, "hangOnVoip")
    send(call, "calling", {"keepTime": 50})
    assert send(call, "calling", {"keepTime": 20}).keep_time == 50


def test_bad_events_are_refused_and_write_nothing(call):
    with pytest.raises(ApplicationError) as exc:
        send(call, "ringVoip")
    assert exc.value.field == "eventName"
    with pytest.raises(ApplicationError) as exc:
        send(call, "calling", {"keepTime": -1})
    assert exc.value.field == "data.keepTime"
    with pytest.raises(ApplicationError):
        send(call, "calling", {"keepTime": "ten"})
    other_school_device = DeviceFactory()
    with pytest.raises(NotFound) as exc:
        call_event_ingest(
            client=call["client"],
            event=CallEvent(
                room_id="r",
                event_name="startVoip",
                sn=other_school_device.sn,
                model_id=other_school_device.model_id,
                user_id=call["student"].user_id,
                openid="o",
            ),
        )
    assert exc.value.field == "sn"
    assert not CallRecord.objects.exists()


def test_a_room_id_cannot_be_reused_by_another_call(call):
    send(call, "startVoip")
    with pytest.raises(Conflict):
        send(call, "hangOnVoip", openid="oSomeoneElse")
    assert CallRecord.objects.get().outcome == "started"


def test_err_code_9_marks_the_authorization_stale_once(call):
    group_auth = DeviceAuthorizationFactory(parent=call["parent"], group=call["group"])
    other = DeviceAuthorizationFactory(parent=call["parent"], device=DeviceFactory(school=call["student"].school))
    record = send(call, "initByCallerFail", {"errCode": 9, "errMsg": "initByCaller:fail"})
    assert (record.outcome, record.err_code) == ("failed", 9)
    group_auth.refresh_from_db()
    other.refresh_from_db()
    assert group_auth.stale and group_auth.source == "call_error"
    assert not other.stale  # another device's record is untouched
    assert DeviceAuthorization.objects.filter(stale=True).count() == 1


def test_err_code_8_clears_the_scope_of_a_parent_of_the_devices_school_only(call):
    stranger = ContactFactory(student=StudentFactory()).parent  # a parent of another school only
    send(
        call, "initByCallerFail", {"errCode": 8, "errMsg": "initByCaller:fail"}, room="room-8a", openid=stranger.openid
    )
    stranger.refresh_from_db()
    assert stranger.voip_scope_granted  # a vendor's report never reaches another school's parents
    assert CallRecord.objects.get(room_id="room-8a").parent is None  # nor links them to this school's call
    send(call, "initByCallerFail", {"errCode": 8, "errMsg": "initByCaller:fail"}, room="room-8b")
    call["parent"].refresh_from_db()
    assert not call["parent"].voip_scope_granted and call["parent"].voip_scope_lost_at is not None


@pytest.mark.parametrize("seed", range(3))
def test_a_call_tells_the_school_once_when_it_ends_and_once_when_it_is_billed(call, seed):
    """``call.finished`` at the first end, ``call.billed`` at the first billed seconds, whatever the
    order and repeats of the plugin's events; each carries the call's final figures then."""
    deliveries = ANSWERED * 2
    random.Random(seed).shuffle(deliveries)
    for name, data in deliveries:
        send(call, name, data)
    events = {e.type: e for e in OutboxEvent.objects.filter(school=call["student"].school)}
    assert sorted(events) == ["call.billed", "call.finished"]
    assert OutboxEvent.objects.count() == 2
    billed = events["call.billed"].data
    assert (billed["roomId"], billed["user_id"], billed["sn"], billed["billed_seconds"]) == (
        "room-1",
        call["student"].user_id,
        call["device"].sn,
        60,
    )


def test_a_call_that_never_ended_tells_nothing(call):
    send(call, "startVoip")
    send(call, "hangOnVoip")
    assert not OutboxEvent.objects.exists()
