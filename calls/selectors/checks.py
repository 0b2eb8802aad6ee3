"""What a device asks before it dials: the pre-call check, the round-robin call plan, and
getIotBindContactList (seed 000 §4.2; REFERENCE.md §4; FAQ 1.5).

The answers use WeChat's call errCodes where WeChat has them (8 no scope.voip, 9 not a contact
or not authorized) and the portal's 93000xx for its own policy (``core.wechat.errcodes``).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef
from django.utils import timezone

from calls.models import DeviceAuthorization
from calls.selectors.policy import EffectivePolicy, policy_for, student_gate
from contacts.models import Contact, Parent
from core.wechat.errcodes import ErrCode
from schools.models import Device, Student


def _authorized(device: Device, parent_ref) -> Exists:
    """Whether ``parent_ref`` holds a live authorization covering ``device`` (``covering``)."""
    return Exists(DeviceAuthorization.objects.covering(device).filter(parent=parent_ref))


@dataclass(frozen=True)
class CheckResult:
    errcode: int
    policy: EffectivePolicy | None = None
    time_limit: int = 0  # seconds: initByCaller timeLimit

    @property
    def errmsg(self) -> str:
        return ErrCode(self.errcode).errmsg


@dataclass(frozen=True)
class CallPlan(CheckResult):
    contacts: tuple = ()  # Contact rows, in calling order


def call_check(*, device: Device, student: Student, openid: str, now: datetime | None = None) -> CheckResult:
    """The checks ``initByCaller`` would fail, run before the device dials (REFERENCE.md §4).

    ``errcode`` 0 may call; 8 no scope.voip; 9 not a contact or not authorized for the device or
    its group; 9300003 device and student of different schools; 9300004 outside the calling
    windows; 9300005 daily minutes used up; 9300006 same parent called within ``repeat_interval``.
    ``time_limit`` (seconds) is the policy's, cut to the student's remaining daily minutes.
    Three queries after the device and the student are loaded.
    """
    now = now or timezone.now()
    if device.school_id != student.school_id:
        return CheckResult(ErrCode.OTHER_SCHOOL)
    policy = policy_for(student=student)
    parent = (
        Parent.objects.filter(openid=openid)
        .annotate(
            is_contact=Exists(Contact.objects.filter(student=student, parent=OuterRef("pk"))),
            authorized=_authorized(device, OuterRef("pk")),
        )
        .first()
    )
    if parent is not None and parent.is_contact and not parent.voip_scope_granted:
        return CheckResult(ErrCode.NO_SCOPE, policy)
    if parent is None or not parent.is_contact or not parent.authorized:
        return CheckResult(ErrCode.NOT_AUTHORIZED, policy)
    errcode, usage, time_limit = student_gate(student=student, policy=policy, now=now)
    if errcode:
        return CheckResult(errcode, policy)
    if openid in usage.recent_openids:
        return CheckResult(ErrCode.REPEAT_CALL, policy)
    return CheckResult(ErrCode.OK, policy, time_limit)


def call_plan(*, device: Device, student: Student, now: datetime | None = None) -> CallPlan:
    """Round-robin calling (FAQ 1.5): the contacts this device may call now, in call order.

    Order: the admin's preferred order (``Contact.call_order``), else admin first, then by binding
    time. Contacts without scope.voip, without a live authorization for this device or its group,
    or called within ``repeat_interval`` are left out. A blocked student (other school, window,
    daily minutes) gets an empty plan with that errcode. Three queries after the device and the
    student are loaded.
    """
    now = now or timezone.now()
    policy = policy_for(student=student)
    if device.school_id != student.school_id:
        return CallPlan(ErrCode.OTHER_SCHOOL, policy)
    errcode, usage, time_limit = student_gate(student=student, policy=policy, now=now)
    if errcode:
        return CallPlan(errcode, policy)
    contacts = (
        Contact.objects.filter(student=student, parent__voip_scope_granted=True)
        .filter(_authorized(device, OuterRef("parent_id")))
        .select_related("parent")
        .in_call_order()
    )
    plan = tuple(c for c in contacts if c.parent.openid not in usage.recent_openids)
    return CallPlan(ErrCode.OK, policy, time_limit, plan)


def iot_bind_contacts(*, device: Device, openid_list: list[str]) -> list[dict]:
    """getIotBindContactList (seed 000 §4.2): ``[{open_id, sn, model_id, status}]`` in the order asked.

    ``status`` 1 when the openid holds a live authorization for the device or its group, else 0
    (unknown openids included). One query whatever the length of the list.
    """
    authorized = set(
        Parent.objects.filter(openid__in=openid_list)
        .filter(_authorized(device, OuterRef("pk")))
        .values_list("openid", flat=True)
    )
    return [
        {"open_id": openid, "sn": device.sn, "model_id": device.model_id, "status": int(openid in authorized)}
        for openid in dict.fromkeys(openid_list)
    ]
