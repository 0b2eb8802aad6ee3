"""Device groups and their membership, through WeChat (REFERENCE.md §1, §5; seed 000 §3).

WeChat creates a group (``group/createid``: its ``group_id``; name and ``model_id`` are fixed
then) and keeps who is in it (``adddevice``, ``removedevice``, ``getinfo``). Every change is made
at WeChat first and saved here only when WeChat accepted it; WeChat's refusals become
``ApplicationError`` naming the field at fault (9800012 ``name``; 9800013-9800017 ``group``), and
nothing is saved. ``device_group_reconcile`` reads a group back from WeChat and brings the portal
into line (an admin action and a daily beat task). With ``WECHAT_SANDBOX`` (local development, no
WeChat) the portal plays WeChat's part: a local ``group_id``, membership kept here only.
"""

import logging
import secrets
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError, UpstreamUnavailable
from core.validators import GROUP_NAME_MAX_BYTES
from core.wechat.client import WeChatClient, WeChatError, WeChatUnavailable
from core.wechat.errcodes import ErrCode
from schools.models import GROUP_CAPACITY_DEFAULT, AuditLog, CallMode, Device, DeviceGroup, School
from schools.services.audit import audit_log_record
from schools.tenancy import SYSTEM, staff_check

logger = logging.getLogger(__name__)

# WeChat's group errcodes, as the field they are about and what staff read.
GROUP_ERRORS = {
    ErrCode.GROUP_NAME_INVALID: ("name", _("WeChat refuses this name: 1-32 bytes (errcode 9800012).")),
    ErrCode.GROUP_ID_INVALID: ("group", _("WeChat does not know this group_id (errcode 9800013).")),
    ErrCode.GROUP_TYPE_MISMATCH: (
        "group",
        _("WeChat refuses: the device's type differs from the group's (errcode 9800014)."),
    ),
    ErrCode.GROUP_DEVICE_IN_ANOTHER: ("group", _("WeChat refuses: the device is in another group (errcode 9800015).")),
    ErrCode.GROUP_FULL: ("group", _("WeChat refuses: the group is full (errcode 9800016).")),
    ErrCode.GROUP_DEVICE_NOT_IN: ("group", _("WeChat says the device is not in the group (errcode 9800017).")),
}


class _WeChatGroups:
    """The group calls, with WeChat's errors as ``ApplicationError`` (or none at all in the sandbox)."""

    def __init__(self):
        self.client = None if settings.WECHAT_SANDBOX else WeChatClient.from_settings()

    def call(self, method: str, **kwargs):
        if self.client is None:
            return None
        try:
            return getattr(self.client, method)(**kwargs)
        except WeChatUnavailable as exc:
            raise UpstreamUnavailable() from exc
        except WeChatError as exc:
            field, message = GROUP_ERRORS.get(
                exc.errcode, ("group", _("WeChat refused (errcode %(errcode)s).") % {"errcode": exc.errcode})
            )
            raise ApplicationError(message, field=field, errcode=exc.errcode) from exc


@transaction.atomic
def device_group_create(
    *, school: School, name: str, model_id: str, model_type: str, capacity: int, actor_user=SYSTEM
) -> DeviceGroup:
    """Create a group at WeChat (``group/createid`` ``{model_id, group_name}``), then its row; audited.

    Raises ``ApplicationError`` (field ``name``: not 1-32 bytes, 9800012) or ``UpstreamUnavailable``;
    ``NotFound`` / ``Forbidden`` when ``actor_user`` may not change ``school`` (``staff_check``).
    """
    staff_check(actor_user, school_ids=[school.pk])
    if not 1 <= len(name.encode()) <= GROUP_NAME_MAX_BYTES:
        raise ApplicationError(GROUP_ERRORS[ErrCode.GROUP_NAME_INVALID][1], field="name")
    group_id = _WeChatGroups().call("group_create", model_id=model_id, group_name=name)
    group = DeviceGroup.objects.create(
        school=school,
        name=name,
        model_id=model_id,
        model_type=model_type,
        capacity=capacity,
        group_id=group_id or f"sandbox_{secrets.token_hex(6)}",
        checked_at=timezone.now(),
    )
    audit_log_record(
        action=AuditLog.Action.DEVICE_GROUP_CREATED,
        school=school,
        actor_user=actor_user,
        data={"group_id": group.group_id},
    )
    return group


@transaction.atomic
def device_group_import(
    *, school: School, group_id: str, model_type: str, capacity: int = GROUP_CAPACITY_DEFAULT, actor_user=SYSTEM
) -> DeviceGroup:
    """Take a group created outside the portal by its ``group_id`` (``getinfo``: its name and
    ``model_id`` are WeChat's), then reconcile its membership with the school's devices; audited.
    Raises ``ApplicationError`` (field ``group``: unknown at WeChat, 9800013; field ``group_id``:
    already in the portal) or ``UpstreamUnavailable``; ``staff_check`` of ``actor_user``."""
    staff_check(actor_user, school_ids=[school.pk])
    if DeviceGroup.objects.filter(group_id=group_id).exists():
        raise ApplicationError(_("This group_id is already in the portal."), field="group_id")
    info = device_group_info(group_id=group_id) or {"group_name": group_id[:GROUP_NAME_MAX_BYTES], "model_id": ""}
    group = DeviceGroup.objects.create(
        school=school,
        group_id=group_id,
        name=info["group_name"],
        model_id=info["model_id"],
        model_type=model_type,
        capacity=capacity,
    )
    audit_log_record(
        action=AuditLog.Action.DEVICE_GROUP_CREATED, school=school, actor_user=actor_user, data={"group_id": group_id}
    )
    device_group_reconcile(group=group, actor_user=actor_user)
    return group


def device_group_info(*, group_id: str) -> dict | None:
    """What WeChat knows of a group (``getinfo``): ``{"group_name", "model_id", "devices": [(sn,
    model_id)]}``; None in the sandbox (nothing asked). Raises ``ApplicationError`` (field ``group``:
    unknown at WeChat, 9800013) or ``UpstreamUnavailable``. The roster import checks a new group
    with it."""
    return _WeChatGroups().call("group_info", group_id=group_id)


def device_membership_change(*, changes: list[tuple[Device, DeviceGroup | None, DeviceGroup | None]]) -> None:
    """Make WeChat's membership follow ``changes`` ``[(device, old_group, new_group)]``: removals from
    the old groups first, then additions to the new ones, one call per group. Call before saving the
    devices, inside their transaction: a refusal raises ``ApplicationError`` (field ``group``) and the
    devices are not saved; the error's ``group_id`` names the group WeChat refused. A failure after
    some groups changed leaves WeChat ahead of the portal until ``device_group_reconcile`` reads it
    back."""
    removals, additions = defaultdict(list), defaultdict(list)
    for device, old, new in changes:
        if old == new:
            continue
        if old is not None:
            removals[old.group_id].append((device.sn, device.model_id))
        if new is not None:
            additions[new.group_id].append((device.sn, device.model_id))
    groups = _WeChatGroups()
    calls = [("group_remove_devices", removals), ("group_add_devices", additions)]
    for method, by_group in calls:
        for group_id, devices in by_group.items():
            try:
                groups.call(method, group_id=group_id, devices=devices)
            except ApplicationError as exc:
                exc.group_id = group_id
                raise


@transaction.atomic
def device_group_set(*, device: Device, group: DeviceGroup | None, actor_user=SYSTEM) -> Device:
    """Put ``device`` into ``group`` (None: out of its group) at WeChat, then here; audited.

    Raises ``ApplicationError`` (field ``group``): the portal's rule (same school, hardware mode,
    same device type, not full) or WeChat's refusal (9800013-9800017); ``staff_check`` of
    ``actor_user`` for the device's school and the group's.
    """
    staff_check(actor_user, school_ids=[device.school_id] + ([group.school_id] if group is not None else []))
    old = Device.objects.select_related("group").get(pk=device.pk).group if device.pk else None
    if group is not None:
        device.group = group
        error = device.group_error(others_in_group=group.devices.exclude(pk=device.pk).count())
        if error:
            raise ApplicationError(error, field="group")
    device_membership_change(changes=[(device, old, group)])
    device.group = group
    device.save()
    if old != group:
        audit_log_record(
            action=AuditLog.Action.DEVICE_GROUP_CHANGED,
            school=device.school,
            actor_user=actor_user,
            data={"sn": device.sn, "from": old.group_id if old else "", "to": group.group_id if group else ""},
        )
    return device


@transaction.atomic
def device_group_reconcile(*, group: DeviceGroup, actor_user=SYSTEM) -> dict:
    """Read ``group`` back from WeChat (``getinfo``) and bring the portal into line: WeChat's name and
    model; the school's hardware-mode devices WeChat lists are put in the group, those it does not
    list taken out. Returns ``{"added": [sn], "removed": [sn], "unknown": [sn]}`` (``unknown``: listed
    by WeChat, not a device of the school); audited when anything changed. Nothing is read in the
    sandbox. ``staff_check`` of ``actor_user`` (the admin action; the beat task is ``SYSTEM``)."""
    staff_check(actor_user, school_ids=[group.school_id])
    info = device_group_info(group_id=group.group_id)
    result = {"added": [], "removed": [], "unknown": []}
    if info is None:
        return result
    listed = set(info["devices"])
    devices = {(d.sn, d.model_id): d for d in Device.objects.filter(school=group.school, call_mode=CallMode.HARDWARE)}
    for key in listed:
        device = devices.get(key)
        if device is None:
            result["unknown"].append(key[0])
        elif device.group_id != group.pk:
            Device.objects.filter(pk=device.pk).update(group=group)
            result["added"].append(device.sn)
    for device in group.devices.all():
        if (device.sn, device.model_id) not in listed:
            Device.objects.filter(pk=device.pk).update(group=None)
            result["removed"].append(device.sn)
    DeviceGroup.objects.filter(pk=group.pk).update(
        name=info["group_name"] or group.name, model_id=info["model_id"] or group.model_id, checked_at=timezone.now()
    )
    if any(result.values()):
        audit_log_record(
            action=AuditLog.Action.DEVICE_GROUP_RECONCILED,
            school=group.school,
            actor_user=actor_user,
            data={"group_id": group.group_id, **result},
        )
    return result


def device_groups_reconcile_all() -> int:
    """Beat, daily: ``device_group_reconcile`` every group, those never checked first, then the least
    recently checked; returns how many were read. A group WeChat refuses (e.g. deleted there:
    9800013) is logged, its ``checked_at`` (when the portal last asked) moves on so that it is
    asked last next time, and the run goes on; WeChat busy or unreachable stops the run (the next
    one resumes with the groups not read)."""
    done = 0
    groups = DeviceGroup.objects.select_related("school").order_by(F("checked_at").asc(nulls_first=True), "pk")
    for group in groups:
        try:
            device_group_reconcile(group=group)
        except UpstreamUnavailable:
            break
        except ApplicationError as exc:
            logger.warning(
                "device group %s (school %s): WeChat refused getinfo (errcode %s): %s",
                group.group_id,
                group.school_id,
                exc.errcode,
                exc.message,
            )
            DeviceGroup.objects.filter(pk=group.pk).update(checked_at=timezone.now())
            continue
        done += 1
    return done
