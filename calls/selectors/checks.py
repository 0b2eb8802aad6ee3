"""What a device asks before it dials: the pre-call check, the round-robin call plan, and
getIotBindContactList (seed 000 §4.2; seed 003 §1; REFERENCE.md §1a, §4; FAQ 1.5).

WeChat's rule of the device's call mode comes first, then the school's policy:

- face-pay mode (seed 003 §1): the listener must be a bound contact of the student (else 9) and
  must have granted scope.voip (else 8); device authorizations are not consulted.
- hardware mode (seed 000): the listener must have authorized the device or its group (else 9);
  the school may also require it to be a bound contact of the student (else 9300007).

Then the calling windows (9300004), the daily minutes (9300005) and the repeat interval (9300006).
The answers use WeChat's call errCodes where WeChat has them and the portal's 93000xx otherwise
(``core.wechat.errcodes``).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from calls.models import DeviceAuthorization
from calls.selectors.policy import EffectivePolicy, business_type_for, policy_for, student_gate
from contacts.models import Contact, Parent
from core.errors import ApplicationError
from core.prepared import prepared
from core.wechat.errcodes import ErrCode
from schools.models import CallMode, Device, Student


def _authorized(device: Device, parent_ref) -> Exists:
    """Whether ``parent_ref`` holds a live authorization covering ``device`` (``covering``)."""
    return Exists(DeviceAuthorization.objects.covering(device).filter(parent=parent_ref))


def _contact_of(student: Student, parent_ref) -> Exists:
    """Whether ``parent_ref`` is a contact of ``student`` that devices are served."""
    return Exists(Contact.objects.served().filter(student=student, parent=parent_ref))


@prepared
def _listener(*, openid: str, student_id: int, device_id: int, group_id: int | None) -> QuerySet:
    """The parent ``openid`` with ``is_contact`` (of the student) and ``authorized`` (for the device)."""
    student, device = Student(pk=student_id), Device(pk=device_id, group_id=group_id)
    parents = Parent.objects.filter(openid=openid).order_by()
    return parents.annotate(
        is_contact=_contact_of(student, OuterRef("pk")), authorized=_authorized(device, OuterRef("pk"))
    )[:1]


@prepared
def _face_pay_plan(*, student_id: int) -> QuerySet:
    """The contacts a face-pay phone may call: served, with scope.voip (seed 003 §1), in call order."""
    contacts = Contact.objects.served().filter(student_id=student_id, parent__voip_scope_granted=True)
    return contacts.select_related("parent").in_call_order()


@prepared
def _hardware_plan(*, student_id: int, device_id: int, group_id: int | None) -> QuerySet:
    """The contacts a hardware-mode device may call: served and authorized it (seed 000 §3), in call order."""
    device = Device(pk=device_id, group_id=group_id)
    contacts = Contact.objects.served().filter(student_id=student_id).filter(_authorized(device, OuterRef("parent_id")))
    return contacts.select_related("parent").in_call_order()


@prepared
def _face_pay_ready(*, openid_list: list[str], student_id: int) -> QuerySet:
    """Of ``openid_list``, the contacts of the student with scope.voip (seed 003 §1)."""
    parents = Parent.objects.filter(openid__in=openid_list, voip_scope_granted=True)
    return parents.filter(_contact_of(Student(pk=student_id), OuterRef("pk"))).values_list("openid", flat=True)


@prepared
def _hardware_ready(*, openid_list: list[str], device_id: int, group_id: int | None) -> QuerySet:
    """Of ``openid_list``, the parents that authorized the device or its group (seed 000 §4.2)."""
    device = Device(pk=device_id, group_id=group_id)
    parents = Parent.objects.filter(openid__in=openid_list).filter(_authorized(device, OuterRef("pk")))
    return parents.values_list("openid", flat=True)


@dataclass(frozen=True)
class CheckResult:
    errcode: int
    policy: EffectivePolicy | None = None
    time_limit: int = 0  # seconds: initByCaller timeLimit
    business_type: int = 0  # initByCaller businessType: 0/3 face-pay, 1 hardware

    @property
    def errmsg(self) -> str:
        return ErrCode(self.errcode).errmsg


@dataclass(frozen=True)
class CallPlan(CheckResult):
    contacts: tuple = ()  # Contact rows, in calling order


def _mode_refusal(*, device: Device, student: Student, parent) -> int:
    """WeChat's rule of the device's call mode (and the school's contact rule in hardware mode): 0 or the errcode."""
    if device.call_mode == CallMode.FACE_PAY:
        if parent is None or not parent.is_contact:
            return ErrCode.NOT_AUTHORIZED
        return ErrCode.OK if parent.voip_scope_granted else ErrCode.NO_SCOPE
    if parent is None or not parent.authorized:
        return ErrCode.NOT_AUTHORIZED
    if student.school.hardware_requires_contact and not parent.is_contact:
        return ErrCode.NOT_A_CONTACT
    return ErrCode.OK


def call_check(*, device: Device, student: Student, openid: str, now: datetime | None = None) -> CheckResult:
    """The checks ``initByCaller`` would fail, run before the device dials (REFERENCE.md §1a, §4).

    ``errcode`` 0 may call; 8 / 9 / 9300007 by the device's call mode (module docstring); 9300003
    device and student of different schools; 9300004 outside the calling windows; 9300005 daily
    minutes used up; 9300006 same parent called within ``repeat_interval``. ``time_limit``
    (seconds) is the policy's, cut to the student's remaining daily minutes; ``business_type`` the
    mode's. Three queries after the device and the student are loaded.
    """
    now = now or timezone.now()
    if device.school_id != student.school_id:
        return CheckResult(ErrCode.OTHER_SCHOOL)
    policy = policy_for(student=student)
    business_type = business_type_for(device=device, policy=policy)
    found = _listener(openid=openid, student_id=student.pk, device_id=device.pk, group_id=device.group_id)
    parent = found[0] if found else None
    errcode = _mode_refusal(device=device, student=student, parent=parent)
    if errcode:
        return CheckResult(errcode, policy, business_type=business_type)
    errcode, usage, time_limit = student_gate(student=student, policy=policy, now=now)
    if errcode:
        return CheckResult(errcode, policy, business_type=business_type)
    if openid in usage.recent_openids:
        return CheckResult(ErrCode.REPEAT_CALL, policy, business_type=business_type)
    return CheckResult(ErrCode.OK, policy, time_limit, business_type)


def call_plan(*, device: Device, student: Student, now: datetime | None = None) -> CallPlan:
    """Round-robin calling (FAQ 1.5): the student's contacts this device may call now, in call order.

    Order: the admin's preferred order (``Contact.call_order``), else admin first, then by binding
    time. Left out: in face-pay mode contacts without scope.voip; in hardware mode contacts without
    a live authorization for this device or its group; in both, contacts called within
    ``repeat_interval``. A blocked student (other school, window, daily minutes) gets an empty plan
    with that errcode. Three queries after the device and the student are loaded.
    """
    now = now or timezone.now()
    policy = policy_for(student=student)
    business_type = business_type_for(device=device, policy=policy)
    if device.school_id != student.school_id:
        return CallPlan(ErrCode.OTHER_SCHOOL, policy, business_type=business_type)
    errcode, usage, time_limit = student_gate(student=student, policy=policy, now=now)
    if errcode:
        return CallPlan(errcode, policy, business_type=business_type)
    if device.call_mode == CallMode.FACE_PAY:
        contacts = _face_pay_plan(student_id=student.pk)
    else:
        contacts = _hardware_plan(student_id=student.pk, device_id=device.pk, group_id=device.group_id)
    plan = tuple(c for c in contacts if c.parent.openid not in usage.recent_openids)
    return CallPlan(ErrCode.OK, policy, time_limit, business_type, plan)


def iot_bind_contacts(*, device: Device, openid_list: list[str], student: Student | None = None) -> list[dict]:
    """getIotBindContactList (seed 000 §4.2): ``[{open_id, sn, model_id, status}]`` in the order asked.

    Hardware mode: ``status`` 1 when the openid holds a live authorization for the device or its
    group, else 0 (unknown openids included). Face-pay mode has no device authorization (seed 003):
    ``status`` 1 when the openid is a contact of ``student`` (required: ``ApplicationError`` on
    ``user_id`` otherwise) with scope.voip granted. One query whatever the length of the list.
    """
    openids = list(dict.fromkeys(openid_list))
    if device.call_mode == CallMode.FACE_PAY:
        if student is None:
            raise ApplicationError(
                _("Required for a face-pay phone: its calls go to the student's contacts (seed 003)."),
                field="user_id",
                errcode=ErrCode.BAD_DATA,
            )
        ready = set(_face_pay_ready(openid_list=openids, student_id=student.pk))
    else:
        ready = set(_hardware_ready(openid_list=openids, device_id=device.pk, group_id=device.group_id))
    return [
        {"open_id": openid, "sn": device.sn, "model_id": device.model_id, "status": int(openid in ready)}
        for openid in openids
    ]
