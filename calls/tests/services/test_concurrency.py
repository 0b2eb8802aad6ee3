"""Events of one call arriving at the same instant on many connections (PostgreSQL, real threads)."""

import random

import pytest

from calls.models import CallRecord
from calls.services.call_events import CallEvent, call_event_ingest
from contacts.tests.factories import ParentFactory
from core.tests.concurrency import run_threads
from schools.tests.factories import ApiClientFactory, DeviceFactory, StudentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

EVENTS = [
    ("startVoip", {}),
    ("hangOnVoip", {}),
    ("calling", {"keepTime": 10}),
    ("calling", {"keepTime": 20}),
    ("hangUpVoip", {"keepTime": 95, "status": "endByListener", "origin": "listener"}),
    ("endVoip", {"keepTime": 95, "roomType": "voice", "businessType": 0}),
    ("finishVoip", {"keepTime": 93}),
]


def test_concurrent_duplicated_events_build_one_correct_record():
    student = StudentFactory()
    device = DeviceFactory(school=student.school)
    parent = ParentFactory()
    client = ApiClientFactory(schools=[student.school])
    deliveries = EVENTS * 3
    random.Random(11).shuffle(deliveries)

    def deliver(i):
        name, data = deliveries[i]
        event = CallEvent(
            room_id="room-race",
            event_name=name,
            sn=device.sn,
            model_id=device.model_id,
            user_id=student.user_id,
            openid=parent.openid,
            data=data,
        )
        return call_event_ingest(client=client, event=event).room_id

    results = run_threads(len(deliveries), deliver)

    assert results == ["room-race"] * len(deliveries), results
    record = CallRecord.objects.get()
    assert (record.outcome, record.keep_time, record.billed_seconds, record.end_reason) == (
        "completed",
        95,
        93,
        "listener",
    )
    assert set(record.events) == {name for name, _ in EVENTS}
