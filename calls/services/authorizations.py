"""Device authorization records: what a parent's mini-program reported of devices and groups.

WeChat offers no server API for authorization status (REFERENCE.md §2; seed 000 §4): these rows
record what ``wx.requestDeviceVoIP`` and ``wx.getDeviceVoIPList`` returned, and what a device's
errCode 9 revealed. Every change leaves a ``DeviceAuthorizationHistory`` row; each service is one
transaction.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from calls.models import AuthorizationSource, DeviceAuthorization, DeviceAuthorizationHistory
from contacts.models import Parent
from contacts.selectors.contacts import parent_school_ids
from core.errors import ApplicationError, NotFound
from schools.models import CallMode, Device, DeviceGroup

# Face-pay phones call as the student (seed 003; FAQ 3.7): nothing to authorize, no snTicket.
FACE_PAY_NOT_AUTHORIZED = _(
    "This phone calls in face-pay mode, as the student: it needs no device authorization (REFERENCE.md §1a)."
)


@dataclass(frozen=True)
class AuthorizationItem:
    """One entry of ``wx.requestDeviceVoIP`` / ``wx.getDeviceVoIPList``: a device or a group, and its status."""

    status: int
    sn: str = ""
    model_id: str = ""
    group_id: str = ""


def _resolve(
    items: list[AuthorizationItem], school_ids
) -> list[tuple[AuthorizationItem, Device | None, DeviceGroup | None]]:
    """Devices and groups of the parent's schools for ``items``; NotFound names the first unknown one,
    ApplicationError the first face-pay phone.

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
            if device.call_mode == CallMode.FACE_PAY:
                raise ApplicationError(FACE_PAY_NOT_AUTHORIZED, field=f"list[{index}].sn")
            resolved.append((item, device, None))
    return resolved


def authorization_history(
    record: DeviceAuthorization, *, source: str, now: datetime, removed: bool = False
) -> DeviceAuthorizationHistory:
    """The (unsaved) history row of ``record`` as it now stands, or of its removal (``status`` empty)."""
    return DeviceAuthorizationHistory(
        parent_id=record.parent_id,
        device_id=record.device_id,
        group_id=record.group_id,
        status=None if removed else record.status,
        stale=False if removed else record.stale,
        source=source,
        created_at=now,
    )


def _upsert(
    *, parent, device, group, status, source, now
) -> tuple[DeviceAuthorization, DeviceAuthorizationHistory | None]:
    """Insert or update one record; returns it and its history row when it changed."""
    record, created = DeviceAuthorization.objects.select_for_update().get_or_create(
        parent=parent, device=device, group=group, defaults={"status": status, "source": source, "updated_at": now}
    )
    if not created:
        if record.status == status and not record.stale:
            return record, None
        record.status, record.stale, record.source, record.updated_at = status, False, source, now
        record.save(update_fields=["status", "stale", "source", "updated_at"])
    return record, authorization_history(record, source=source, now=now)


@transaction.atomic
def authorization_record(*, parent: Parent, item: AuthorizationItem) -> DeviceAuthorization:
    """Record what ``wx.requestDeviceVoIP`` returned for a device (sn, model_id) or a group (group_id).

    status 1 authorized, 0 refused or revoked (seed 000 §1-§3). Only devices and groups of schools
    the parent is bound to; others raise ``NotFound`` (field ``sn`` / ``group_id``). A history row is
    written when the record changes.
    """
    try:
        [(item, device, group)] = _resolve([item], parent_school_ids(parent=parent))
    except NotFound as exc:
        exc.field = "group_id" if item.group_id else "sn"
        raise
    now = timezone.now()
    record, history = _upsert(
        parent=parent, device=device, group=group, status=item.status, source=AuthorizationSource.REQUEST, now=now
    )
    if history is not None:
        history.save()
    return record


@transaction.atomic
def authorizations_reconcile(*, parent: Parent, items: list[AuthorizationItem]) -> list[DeviceAuthorization]:
    """Replace the caller's records with the list ``wx.getDeviceVoIPList`` returned (seed 000 §4.1).

    All or nothing: an unknown device or group anywhere in the list raises ``NotFound`` naming its
    index; duplicates raise ``ApplicationError``. Records absent from the list are removed (one
    query, however many); every change leaves a history row. Queries grow with the list's length,
    not with the records it replaces.
    """
    keys = [(i.group_id,) if i.group_id else (i.sn, i.model_id) for i in items]
    if len(set(keys)) != len(keys):
        raise ApplicationError(_("The list names the same device or group twice."), field="list")
    resolved = _resolve(items, parent_school_ids(parent=parent))
    now = timezone.now()
    history = []
    kept = []
    for item, device, group in resolved:
        record, row = _upsert(
            parent=parent, device=device, group=group, status=item.status, source=AuthorizationSource.RECONCILE, now=now
        )
        kept.append(record.pk)
        if row is not None:
            history.append(row)
    removed = list(DeviceAuthorization.objects.filter(parent=parent).exclude(pk__in=kept))
    history += [authorization_history(r, source=AuthorizationSource.RECONCILE, now=now, removed=True) for r in removed]
    DeviceAuthorization.objects.filter(pk__in=[r.pk for r in removed]).delete()  # one DELETE, however many
    DeviceAuthorizationHistory.objects.bulk_create(history)
    return list(DeviceAuthorization.objects.filter(pk__in=kept).select_related("device", "group"))


def authorizations_mark_stale(*, parent: Parent, device: Device, now: datetime) -> int:
    """A device reported errCode 9 for ``parent``: its live records covering ``device`` become stale."""
    records = list(DeviceAuthorization.objects.covering(device).select_for_update().filter(parent=parent))
    for record in records:
        record.stale, record.source, record.updated_at = True, AuthorizationSource.CALL_ERROR, now
        record.save(update_fields=["stale", "source", "updated_at"])
    DeviceAuthorizationHistory.objects.bulk_create(
        [authorization_history(r, source=AuthorizationSource.CALL_ERROR, now=now) for r in records]
    )
    return len(records)
