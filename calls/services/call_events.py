"""Call records built from the plugin's ``onVoipEvent`` events, as devices report them (REFERENCE.md §4).

One ``CallRecord`` per ``roomId``; its fields are derived from the set of events received, so
repeated or out-of-order events give the same record. A refused ``initByCaller`` with errCode 9
marks the parent's authorizations of the device stale (REFERENCE.md §2).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from calls.models import BusinessType, CallRecord, RoomType
from calls.selectors.clients import device_get_for_client, student_get_for_client
from calls.services.authorizations import authorizations_mark_stale
from contacts.selectors.contacts import parent_of_school
from contacts.services.parents import parent_voip_scope_lost
from contacts.services.reconciliation import bindings_reconcile_soon
from core.errors import ApplicationError, Conflict
from core.wechat.errcodes import ErrCode
from schools.models import ApiClient, CallMode
from schools.services.events import event_emit

# onVoipEvent names (REFERENCE.md §4), plus the portal's own ``initByCallerFail`` for a call that
# initByCaller refused (data ``{errCode, errMsg}``).
EVENT_NAMES = (
    "startVoip",
    "hangOnVoip",
    "cancelVoip",
    "rejectVoip",
    "timeout",
    "busy",
    "abortVoip",
    "hangUpVoip",
    "endVoip",
    "finishVoip",
    "calling",
    "initByCallerFail",
)
_END_EVENTS = (
    "endVoip",
    "hangUpVoip",
    "abortVoip",
    "cancelVoip",
    "rejectVoip",
    "timeout",
    "busy",
    "initByCallerFail",
    "finishVoip",
)
_REFUSALS = {"rejectVoip": "rejected", "timeout": "timeout", "busy": "busy", "cancelVoip": "cancelled"}


@dataclass(frozen=True)
class CallEvent:
    """One ``onVoipEvent`` as the device reports it (WeChat's ``roomId``, ``eventName``, ``roomType``,
    ``businessType``, snake_case here). ``data`` as the plugin gives it: ``keepTime`` in seconds."""

    room_id: str
    event_name: str
    sn: str
    model_id: str
    user_id: str
    openid: str
    room_type: str = RoomType.VOICE
    business_type: int | None = None  # None: the device's mode decides (0 face-pay, 1 hardware)
    data: dict | None = None


def _keep_time(data: dict) -> int | None:
    value = data.get("keepTime")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ApplicationError(_("keepTime must be a number of seconds ≥ 0."), field="data.keepTime")
    return int(round(value))


def _derive(record: CallRecord) -> None:
    """Recompute the record from the set of events: the same set gives the same record, whatever the order."""
    events = record.events
    names = set(events)

    def at(name):
        return datetime.fromisoformat(events[name]["received_at"]) if name in events else None

    def data(name):
        return events.get(name, {}).get("data") or {}

    answered = "hangOnVoip" in names
    if "initByCallerFail" in names:
        outcome = CallRecord.Outcome.FAILED
    elif "abortVoip" in names:
        outcome = CallRecord.Outcome.ABORTED
    elif answered and names & {"hangUpVoip", "endVoip", "finishVoip"}:
        outcome = CallRecord.Outcome.COMPLETED
    elif refusal := next((name for name in _REFUSALS if name in names), None):
        outcome = _REFUSALS[refusal]
    elif answered:
        outcome = CallRecord.Outcome.ANSWERED
    else:
        outcome = CallRecord.Outcome.STARTED
    record.outcome = outcome

    received = [at(name) for name in names]
    record.started_at = at("startVoip") or min(received)
    record.answered_at = at("hangOnVoip")
    ended = [at(name) for name in _END_EVENTS if name in names]
    record.ended_at = min(ended) if ended else None
    # Connected time only exists once answered (only the connected phase is billed, REFERENCE.md §4).
    keep_times = [
        events[n].get("keep_time") for n in names if n != "finishVoip" and events[n].get("keep_time") is not None
    ]
    record.keep_time = max(keep_times) if (answered or "abortVoip" in names) and keep_times else 0
    record.billed_seconds = events["finishVoip"].get("keep_time") if "finishVoip" in names else None
    if "endVoip" in names:
        end = data("endVoip")
        record.room_type = end.get("roomType") if end.get("roomType") in RoomType.values else record.room_type
        if end.get("businessType") in BusinessType.values:
            record.business_type = end["businessType"]
    for name in ("hangUpVoip", "abortVoip", "cancelVoip", "initByCallerFail"):
        if name in names:
            d = data(name)
            record.end_reason = str(d.get("origin") or d.get("status") or d.get("errMsg") or name)[:64]
            break
    fail = data("initByCallerFail")
    record.err_code = fail.get("errCode") if isinstance(fail.get("errCode"), int) else None


def _mode_business_type(device) -> int:
    return BusinessType.DURATION if device.call_mode == CallMode.FACE_PAY else BusinessType.DEVICE


def _init_failed(*, record: CallRecord, device, err_code, now: datetime) -> None:
    """What a refused initByCaller tells about the listener (REFERENCE.md §2, §4; FAQ 3.6).

    errCode 8: the parent's scope.voip is gone (its mini-program asks again). ``record.parent`` is
    only ever a parent of the device's school (``parent_of_school``): a vendor's report never
    reaches another school's parents. errCode 9 in hardware mode: its authorizations of the device are stale; in
    face-pay mode: WeChat does not have it as a contact of the student, so the student's contacts
    are checked against WeChat.
    """
    if err_code == ErrCode.NO_SCOPE:
        parent_voip_scope_lost(parent=record.parent, now=now)
    elif err_code == ErrCode.NOT_AUTHORIZED and device.call_mode == CallMode.HARDWARE:
        authorizations_mark_stale(parent=record.parent, device=device, now=now)
    elif err_code == ErrCode.NOT_AUTHORIZED:
        bindings_reconcile_soon(student_ids=[record.student_id])


@transaction.atomic
def call_event_ingest(*, client: ApiClient, event: CallEvent) -> CallRecord:
    """Fold one ``onVoipEvent`` into the call record of its ``roomId`` (REFERENCE.md §4).

    Idempotent: an event name already recorded is ignored (``calling`` only raises keepTime).
    Out-of-order events give the same record, as it is derived from the set of events. The first
    ``initByCallerFail`` acts on what its errCode tells (``_init_failed``: 8 clears scope.voip, 9
    marks authorizations stale or has the contacts checked against WeChat).
    Raises ``NotFound`` for a device or student not of the client's school (fields ``sn`` /
    ``user_id``), ``ApplicationError`` for an unknown ``eventName``, a negative ``keepTime`` or a
    device and student of two schools (9300003),
    ``Conflict`` when the roomId belongs to another device, student or openid.
    """
    if event.event_name not in EVENT_NAMES:
        raise ApplicationError(_("Unknown eventName %(name)s.") % {"name": event.event_name}, field="eventName")
    data = event.data or {}
    keep_time = _keep_time(data)
    # A call's last events may come after its device or student was deactivated: they still count.
    device = device_get_for_client(client=client, sn=event.sn, model_id=event.model_id, active=False)
    student = student_get_for_client(client=client, user_id=event.user_id, active=False)
    if student.school_id != device.school_id:
        raise ApplicationError(
            _("The device and the student belong to different schools."), field="user_id", errcode=ErrCode.OTHER_SCHOOL
        )
    now = timezone.now()
    record, _created = CallRecord.objects.get_or_create(
        room_id=event.room_id,
        defaults={
            "school_id": device.school_id,
            "device": device,
            "student": student,
            "openid": event.openid,
            "parent": parent_of_school(openid=event.openid, school_id=device.school_id),
            "room_type": event.room_type if event.room_type in RoomType.values else RoomType.VOICE,
            "business_type": event.business_type
            if event.business_type in BusinessType.values
            else _mode_business_type(device),
            "started_at": now,
        },
    )
    record = CallRecord.objects.select_for_update().get(pk=record.pk)
    if (record.device_id, record.student_id, record.openid) != (device.pk, student.pk, event.openid):
        raise Conflict(_("This roomId belongs to another call."), field="roomId")

    ended, billed = record.ended_at is not None, record.billed_seconds is not None
    seen = record.events.get(event.event_name)
    if seen is None:
        record.events[event.event_name] = {"data": data, "received_at": now.isoformat(), "keep_time": keep_time}
        if event.event_name == "initByCallerFail" and record.parent_id:
            _init_failed(record=record, device=device, err_code=data.get("errCode"), now=now)
    elif event.event_name == "calling" and keep_time is not None and keep_time > (seen.get("keep_time") or 0):
        seen["keep_time"] = keep_time
    else:
        return record  # a repeat: nothing changes
    _derive(record)
    record.save()
    if not ended and record.ended_at is not None:
        event_emit(school_id=record.school_id, type="call.finished", data=call_event_data(record), now=now)
    if not billed and record.billed_seconds is not None:
        event_emit(school_id=record.school_id, type="call.billed", data=call_event_data(record), now=now)
    return record


def call_event_data(record: CallRecord) -> dict:
    """What the ``call.finished`` / ``call.billed`` events tell (seconds; times in ISO 8601)."""
    return {
        "roomId": record.room_id,
        "sn": record.device.sn,
        "model_id": record.device.model_id,
        "user_id": record.student.user_id,
        "openid": record.openid,
        "outcome": record.outcome,
        "roomType": record.room_type,
        "businessType": record.business_type,
        "started_at": record.started_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "keepTime": record.keep_time,
        "billed_seconds": record.billed_seconds,
        "errCode": record.err_code,
    }
