"""Writes of the calls app: authorization records and call events.

Each function is one transaction. Sources: seed 000 §1-§4 (authorization), REFERENCE.md §2 and §4.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Parent
from portal.errors import ApplicationError, Conflict, NotFound
from schools.models import Device, DeviceGroup, Student

from .models import (
    AuthorizationSource,
    AuthorizationStatus,
    CallRecord,
    DeviceAuthorization,
    DeviceAuthorizationHistory,
)
from .selectors import ERRCODE_UNKNOWN_DEVICE, ERRCODE_UNKNOWN_STUDENT

# --- Authorization records ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationItem:
    """One entry of ``wx.requestDeviceVoIP`` / ``wx.getDeviceVoIPList``: a device or a group, and its status."""

    status: int
    sn: str = ""
    model_id: str = ""
    group_id: str = ""


def _parent_school_ids(parent: Parent) -> list[int]:
    return list(
        Student.objects.filter(contacts__parent=parent, is_active=True).values_list("school_id", flat=True).distinct()
    )


def _resolve(
    items: list[AuthorizationItem], school_ids: list[int]
) -> list[tuple[AuthorizationItem, Device | None, DeviceGroup | None]]:
    """Devices and groups of the parent's schools for ``items``; NotFound names the first unknown one.

    Two queries whatever the number of items.
    """
    device_keys = {(i.sn, i.model_id) for i in items if not i.group_id}
    group_ids = {i.group_id for i in items if i.group_id}
    devices = {}
    if device_keys:
        q = Q()
        for sn, model_id in device_keys:
            q |= Q(sn=sn, model_id=model_id)
        devices = {(d.sn, d.model_id): d for d in Device.objects.filter(q, school_id__in=school_ids)}
    groups = (
        {g.group_id: g for g in DeviceGroup.objects.filter(group_id__in=group_ids, school_id__in=school_ids)}
        if group_ids
        else {}
    )
    resolved = []
    for index, item in enumerate(items):
        if item.group_id:
            group = groups.get(item.group_id)
            if group is None:
                raise NotFound(
                    _("Unknown device group %(group_id)s.") % {"group_id": item.group_id},
                    field=f"list[{index}].group_id",
                )
            resolved.append((item, None, group))
        else:
            device = devices.get((item.sn, item.model_id))
            if device is None:
                raise NotFound(
                    _("Unknown device %(sn)s / %(model_id)s.") % {"sn": item.sn, "model_id": item.model_id},
                    field=f"list[{index}].sn",
                )
            resolved.append((item, device, None))
    return resolved


def _history(*, parent, device, group, status, stale, source, now) -> DeviceAuthorizationHistory:
    return DeviceAuthorizationHistory(
        parent=parent, device=device, group=group, status=status, stale=stale, source=source, created_at=now
    )


def _upsert(*, parent, device, group, status, source, now) -> tuple[DeviceAuthorization, bool]:
    """Insert or update one record; returns (record, changed)."""
    record, created = DeviceAuthorization.objects.select_for_update().get_or_create(
        parent=parent, device=device, group=group, defaults={"status": status, "source": source, "updated_at": now}
    )
    if created:
        return record, True
    if record.status == status and not record.stale:
        return record, False
    record.status, record.stale, record.source, record.updated_at = status, False, source, now
    record.save(update_fields=["status", "stale", "source", "updated_at"])
    return record, True


@transaction.atomic
def authorization_record(*, parent: Parent, item: AuthorizationItem) -> DeviceAuthorization:
    """Record what ``wx.requestDeviceVoIP`` returned for a device (sn, model_id) or a group (group_id).

    status 1 authorized, 0 refused or revoked (seed 000 §1-§3). Only devices and groups of schools
    the parent is bound to; others raise ``NotFound`` (field ``sn`` / ``group_id``). A history row is
    written when the record changes.
    """
    try:
        [(item, device, group)] = _resolve([item], _parent_school_ids(parent))
    except NotFound as exc:
        exc.field = "group_id" if item.group_id else "sn"
        raise
    now = timezone.now()
    record, changed = _upsert(
        parent=parent, device=device, group=group, status=item.status, source=AuthorizationSource.REQUEST, now=now
    )
    if changed:
        _history(
            parent=parent,
            device=device,
            group=group,
            status=item.status,
            stale=False,
            source=AuthorizationSource.REQUEST,
            now=now,
        ).save()
    return record


@transaction.atomic
def authorizations_reconcile(*, parent: Parent, items: list[AuthorizationItem]) -> list[DeviceAuthorization]:
    """Replace the caller's records with the list ``wx.getDeviceVoIPList`` returned (seed 000 §4.1).

    All or nothing: an unknown device or group anywhere in the list raises ``NotFound`` naming its
    index; duplicates raise ``ApplicationError``. Records absent from the list are removed; every
    change leaves a history row.
    """
    keys = [(i.group_id,) if i.group_id else (i.sn, i.model_id) for i in items]
    if len(set(keys)) != len(keys):
        raise ApplicationError(_("The list names the same device or group twice."), field="list")
    resolved = _resolve(items, _parent_school_ids(parent))
    now = timezone.now()
    history = []
    kept = []
    for item, device, group in resolved:
        record, changed = _upsert(
            parent=parent, device=device, group=group, status=item.status, source=AuthorizationSource.RECONCILE, now=now
        )
        kept.append(record.pk)
        if changed:
            history.append(
                _history(
                    parent=parent,
                    device=device,
                    group=group,
                    status=item.status,
                    stale=False,
                    source=AuthorizationSource.RECONCILE,
                    now=now,
                )
            )
    for record in DeviceAuthorization.objects.filter(parent=parent).exclude(pk__in=kept):
        history.append(
            _history(
                parent=parent,
                device=record.device,
                group=record.group,
                status=None,
                stale=False,
                source=AuthorizationSource.RECONCILE,
                now=now,
            )
        )
        record.delete()
    DeviceAuthorizationHistory.objects.bulk_create(history)
    return list(DeviceAuthorization.objects.filter(pk__in=kept).select_related("device", "group"))


def authorizations_mark_stale(*, parent: Parent, device: Device, now: datetime) -> int:
    """A device reported errCode 9 for ``parent``: its live records covering ``device`` become stale."""
    q = Q(device=device) | (Q(group_id=device.group_id) if device.group_id else Q(pk__in=[]))
    records = list(
        DeviceAuthorization.objects.select_for_update().filter(
            q, parent=parent, status=AuthorizationStatus.AUTHORIZED, stale=False
        )
    )
    for record in records:
        record.stale, record.source, record.updated_at = True, AuthorizationSource.CALL_ERROR, now
        record.save(update_fields=["stale", "source", "updated_at"])
    DeviceAuthorizationHistory.objects.bulk_create(
        [
            _history(
                parent=parent,
                device=r.device,
                group=r.group,
                status=r.status,
                stale=True,
                source=AuthorizationSource.CALL_ERROR,
                now=now,
            )
            for r in records
        ]
    )
    return len(records)


# --- Call events --------------------------------------------------------------------------------

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
    """One ``onVoipEvent`` as the device reports it. ``keepTime`` is in seconds."""

    roomId: str  # noqa: N815
    eventName: str  # noqa: N815
    sn: str
    model_id: str
    user_id: str
    openid: str
    roomType: str = "voice"  # noqa: N815
    businessType: int = 0  # noqa: N815
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
        record.room_type = end.get("roomType") if end.get("roomType") in ("voice", "video") else record.room_type
        if end.get("businessType") in (0, 3):
            record.business_type = end["businessType"]
    for name in ("hangUpVoip", "abortVoip", "cancelVoip", "initByCallerFail"):
        if name in names:
            d = data(name)
            record.end_reason = str(d.get("origin") or d.get("status") or d.get("errMsg") or name)[:64]
            break
    fail = data("initByCallerFail")
    record.err_code = fail.get("errCode") if isinstance(fail.get("errCode"), int) else None


@transaction.atomic
def call_event_ingest(*, school_id: int, event: CallEvent) -> CallRecord:
    """Fold one ``onVoipEvent`` into the call record of its ``roomId`` (REFERENCE.md §4).

    Idempotent: an event name already recorded is ignored (``calling`` only raises keepTime).
    Out-of-order events give the same record, as it is derived from the set of events. The first
    ``initByCallerFail`` with errCode 9 marks the parent's authorizations for the device stale.
    Raises ``NotFound`` for a device or student not of the client's school (fields ``sn`` /
    ``user_id``), ``ApplicationError`` for an unknown ``eventName`` or a negative ``keepTime``,
    ``Conflict`` when the roomId belongs to another device, student or openid.
    """
    if event.eventName not in EVENT_NAMES:
        raise ApplicationError(_("Unknown eventName %(name)s.") % {"name": event.eventName}, field="eventName")
    data = event.data or {}
    keep_time = _keep_time(data)
    device = Device.objects.filter(sn=event.sn, model_id=event.model_id, school_id=school_id).first()
    if device is None:
        raise NotFound(_("Unknown device."), field="sn", errcode=ERRCODE_UNKNOWN_DEVICE)
    student = Student.objects.filter(user_id=event.user_id, school_id=school_id).first()
    if student is None:
        raise NotFound(_("Unknown student."), field="user_id", errcode=ERRCODE_UNKNOWN_STUDENT)
    now = timezone.now()
    record, _created = CallRecord.objects.get_or_create(
        room_id=event.roomId,
        defaults={
            "school_id": school_id,
            "device": device,
            "student": student,
            "openid": event.openid,
            "parent": Parent.objects.filter(openid=event.openid).first(),
            "room_type": event.roomType if event.roomType in ("voice", "video") else "voice",
            "business_type": event.businessType if event.businessType in (0, 3) else 0,
            "started_at": now,
        },
    )
    record = CallRecord.objects.select_for_update().get(pk=record.pk)
    if (record.device_id, record.student_id, record.openid) != (device.pk, student.pk, event.openid):
        raise Conflict(_("This roomId belongs to another call."), field="roomId")

    seen = record.events.get(event.eventName)
    if seen is None:
        record.events[event.eventName] = {"data": data, "received_at": now.isoformat(), "keep_time": keep_time}
        if event.eventName == "initByCallerFail" and data.get("errCode") == 9 and record.parent_id:
            authorizations_mark_stale(parent=record.parent, device=device, now=now)
    elif event.eventName == "calling" and keep_time is not None and keep_time > (seen.get("keep_time") or 0):
        seen["keep_time"] = keep_time
    else:
        return record  # a repeat: nothing changes
    _derive(record)
    record.save()
    return record
