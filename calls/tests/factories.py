import itertools
from datetime import time, timedelta

import factory
from django.utils import timezone

from calls.models import AuthorizationSource, CallRecord, DeviceAuthorization
from contacts.tests.factories import ParentFactory
from core.local_time import local_at

_rooms = itertools.count(1)


class DeviceAuthorizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeviceAuthorization

    parent = factory.SubFactory(ParentFactory)
    status = 1
    source = AuthorizationSource.REQUEST


def local(day, hour, minute=0):
    """The local (``TIME_ZONE``) datetime of ``day`` at ``hour:minute``."""
    return local_at(day, time(hour, minute))


def make_call(
    *, student, device, started_at=None, keep=0, billed=None, outcome="completed", room_type="voice", openid="oCaller"
) -> CallRecord:
    """A call record as its events would have built it: answered 5 s after ``started_at`` when completed
    or answered; ``keep`` (keepTime) and ``billed`` in seconds."""
    started_at = started_at or timezone.now() - timedelta(minutes=5)
    answered = outcome in ("completed", "answered")
    return CallRecord.objects.create(
        room_id=f"room-{next(_rooms)}",
        school=student.school,
        device=device,
        student=student,
        openid=openid,
        room_type=room_type,
        outcome=outcome,
        started_at=started_at,
        answered_at=started_at + timedelta(seconds=5) if answered else None,
        keep_time=keep,
        billed_seconds=billed,
        end_reason="endByCaller" if answered else "",
        events={
            "startVoip": {"data": {"roomType": room_type}, "received_at": started_at.isoformat(), "keep_time": None}
        },
    )
