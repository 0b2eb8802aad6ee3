"""Reads of the calls app: effective policy, authorization, pre-call checks and call plans.

Each read used by a device runs a fixed number of SQL queries whatever the number of contacts,
devices or openids (pinned in ``calls/tests/selectors``).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Exists, F, Max, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import Contact, Parent
from schools.models import Device, Student

from .models import AuthorizationStatus, CallingWindow, CallPolicy, CallRecord, DeviceAuthorization

# Answers of the pre-call check (REFERENCE.md §4 for 8 and 9; the 93000xx codes are the portal's own).
ERRCODE_OK = 0
ERRCODE_NO_SCOPE = 8
ERRCODE_NOT_AUTHORIZED = 9
ERRCODE_UNKNOWN_DEVICE = 9300001
ERRCODE_UNKNOWN_STUDENT = 9300002
ERRCODE_OTHER_SCHOOL = 9300003
ERRCODE_OUTSIDE_WINDOW = 9300004
ERRCODE_DAILY_MINUTES_USED = 9300005
ERRCODE_REPEAT_CALL = 9300006

ERRMSG = {
    ERRCODE_OK: "ok",
    ERRCODE_NO_SCOPE: "openid has not granted scope.voip",
    ERRCODE_NOT_AUTHORIZED: "listener is not a contact of the user_id or has not authorized the device",
    ERRCODE_UNKNOWN_DEVICE: "unknown or inactive device (sn, model_id)",
    ERRCODE_UNKNOWN_STUDENT: "unknown or inactive student (user_id)",
    ERRCODE_OTHER_SCHOOL: "the device and the student belong to different schools",
    ERRCODE_OUTSIDE_WINDOW: "outside the school's calling windows",
    ERRCODE_DAILY_MINUTES_USED: "the student's daily minutes are used up",
    ERRCODE_REPEAT_CALL: "the same parent was called too recently",
}


@dataclass(frozen=True)
class EffectivePolicy:
    """The call policy that applies to one student: its overrides, else its school's, else defaults."""

    time_limit: int  # seconds
    daily_minutes: int  # minutes; 0 = no limit
    business_type: int
    camera_status: int
    ring_timeout: int  # seconds
    repeat_interval: int  # seconds


def _default_policy() -> CallPolicy:
    return CallPolicy()


def policy_for(*, student: Student) -> EffectivePolicy:
    """Merge the student's overrides over the school's policy; needs ``student_for_calls`` joins."""
    school_policy = getattr(student.school, "call_policy", None) or _default_policy()
    override = getattr(student, "call_policy", None)

    def pick(name):
        value = getattr(override, name, None) if override is not None else None
        return getattr(school_policy, name) if value is None else value

    return EffectivePolicy(
        time_limit=pick("time_limit"),
        daily_minutes=pick("daily_minutes"),
        business_type=pick("business_type"),
        camera_status=pick("camera_status"),
        ring_timeout=min(pick("ring_timeout"), 60),
        repeat_interval=school_policy.repeat_interval,
    )


def device_for_school(*, school_id: int, sn: str, model_id: str) -> Device | None:
    """The active device ``(sn, model_id)`` of ``school_id`` (a vendor client's school), with its group."""
    return (
        Device.objects.select_related("group")
        .filter(sn=sn, model_id=model_id, school_id=school_id, is_active=True)
        .first()
    )


def student_for_calls(*, user_id: str) -> Student | None:
    """The active student with school, school policy and its own overrides, in one query."""
    return (
        Student.objects.select_related("school__call_policy", "call_policy")
        .filter(user_id=user_id, is_active=True, school__is_active=True)
        .first()
    )


def authorization_q(*, device: Device, parent_ref=None) -> Q:
    """Live authorizations covering ``device``: directly, or through its current group (seed 000 §3)."""
    covers = Q(device=device)
    if device.group_id:
        covers |= Q(group_id=device.group_id)
    q = Q(status=AuthorizationStatus.AUTHORIZED, stale=False) & covers
    return q & Q(parent=parent_ref) if parent_ref is not None else q


def _local_now(now: datetime | None) -> datetime:
    return timezone.localtime(now or timezone.now())


def in_calling_window(*, windows: list[CallingWindow], now: datetime) -> bool:
    """True when the school has no windows, or ``now`` (local time) falls inside one."""
    if not windows:
        return True
    local = _local_now(now)
    return any(w.weekday == local.weekday() and w.start_time <= local.time() < w.end_time for w in windows)


@dataclass
class Usage:
    used_seconds: int = 0
    recent_openids: set = field(default_factory=set)


def usage_today(*, student: Student, repeat_interval: int, now: datetime) -> Usage:
    """Connected seconds the student used today (local day) and openids called in the last ``repeat_interval`` s."""
    local = _local_now(now)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    recent_since = now - timedelta(seconds=repeat_interval)
    rows = (
        CallRecord.objects.filter(student=student, started_at__gte=min(day_start, recent_since))
        .values("openid")
        .annotate(
            used=Sum(Coalesce("billed_seconds", "keep_time"), filter=Q(started_at__gte=day_start)),
            last=Max("started_at"),
        )
    )
    usage = Usage()
    for row in rows:
        usage.used_seconds += row["used"] or 0
        if row["last"] >= recent_since:
            usage.recent_openids.add(row["openid"])
    return usage


@dataclass(frozen=True)
class CheckResult:
    errcode: int
    policy: EffectivePolicy | None = None
    time_limit: int = 0

    @property
    def errmsg(self) -> str:
        return ERRMSG[self.errcode]


def _student_gate(*, student: Student, policy: EffectivePolicy, now: datetime) -> tuple[int, Usage, int]:
    """Window and daily-minute checks shared by the check and the call plan: (errcode, usage, time_limit)."""
    if not in_calling_window(windows=list(student.school.calling_windows.all()), now=now):
        return ERRCODE_OUTSIDE_WINDOW, Usage(), 0
    usage = usage_today(student=student, repeat_interval=policy.repeat_interval, now=now)
    time_limit = policy.time_limit
    if policy.daily_minutes:
        remaining = policy.daily_minutes * 60 - usage.used_seconds
        if remaining <= 0:
            return ERRCODE_DAILY_MINUTES_USED, usage, 0
        time_limit = min(time_limit, remaining)
    return ERRCODE_OK, usage, time_limit


def call_check(*, device: Device, student: Student, openid: str, now: datetime | None = None) -> CheckResult:
    """The checks ``initByCaller`` would fail, run before the device dials (REFERENCE.md §4).

    ``errcode`` 0 may call; 8 no scope.voip; 9 not a contact or not authorized for the device or
    its group; 9300003 device and student of different schools; 9300004 outside the calling
    windows; 9300005 daily minutes used up; 9300006 same parent called within ``repeat_interval``.
    ``time_limit`` (seconds) is the policy's, cut to the student's remaining daily minutes.
    Four queries after the device and the student are loaded.
    """
    now = now or timezone.now()
    if device.school_id != student.school_id:
        return CheckResult(ERRCODE_OTHER_SCHOOL)
    policy = policy_for(student=student)
    parent = (
        Parent.objects.filter(openid=openid)
        .annotate(
            is_contact=Exists(Contact.objects.filter(student=student, parent=OuterRef("pk"))),
            authorized=Exists(
                DeviceAuthorization.objects.filter(authorization_q(device=device, parent_ref=OuterRef("pk")))
            ),
        )
        .first()
    )
    if parent is not None and parent.is_contact and not parent.voip_scope_granted:
        return CheckResult(ERRCODE_NO_SCOPE, policy)
    if parent is None or not parent.is_contact or not parent.authorized:
        return CheckResult(ERRCODE_NOT_AUTHORIZED, policy)
    errcode, usage, time_limit = _student_gate(student=student, policy=policy, now=now)
    if errcode:
        return CheckResult(errcode, policy)
    if openid in usage.recent_openids:
        return CheckResult(ERRCODE_REPEAT_CALL, policy)
    return CheckResult(ERRCODE_OK, policy, time_limit)


@dataclass(frozen=True)
class CallPlan:
    errcode: int
    policy: EffectivePolicy
    time_limit: int
    contacts: list = field(default_factory=list)

    @property
    def errmsg(self) -> str:
        return ERRMSG[self.errcode]


def call_plan(*, device: Device, student: Student, now: datetime | None = None) -> CallPlan:
    """Round-robin calling (FAQ 1.5): the contacts this device may call now, in order.

    Order: the admin's preferred order (``Contact.call_order``), else admin first, then by binding
    time. Contacts without scope.voip, without a live authorization for this device or its group,
    or called within ``repeat_interval`` are left out. A blocked student (window, daily minutes)
    gets an empty plan with that errcode. Four queries after the device and the student are loaded.
    """
    now = now or timezone.now()
    if device.school_id != student.school_id:
        return CallPlan(ERRCODE_OTHER_SCHOOL, policy_for(student=student), 0)
    policy = policy_for(student=student)
    errcode, usage, time_limit = _student_gate(student=student, policy=policy, now=now)
    if errcode:
        return CallPlan(errcode, policy, 0)
    contacts = (
        Contact.objects.filter(student=student, parent__voip_scope_granted=True)
        .filter(
            Exists(DeviceAuthorization.objects.filter(authorization_q(device=device, parent_ref=OuterRef("parent_id"))))
        )
        .select_related("parent")
        .order_by(F("call_order").asc(nulls_last=True), "-role", "bound_at", "id")
    )
    plan = [c for c in contacts if c.parent.openid not in usage.recent_openids]
    return CallPlan(ERRCODE_OK, policy, time_limit, plan)


def iot_bind_contacts(*, device: Device, openid_list: list[str]) -> list[dict]:
    """getIotBindContactList (seed 000 §4.2): ``[{open_id, sn, model_id, status}]`` in the order asked.

    ``status`` 1 when the openid holds a live authorization for the device or its group, else 0
    (unknown openids included). One query whatever the length of the list.
    """
    authorized = set(
        Parent.objects.filter(openid__in=openid_list)
        .filter(Exists(DeviceAuthorization.objects.filter(authorization_q(device=device, parent_ref=OuterRef("pk")))))
        .values_list("openid", flat=True)
    )
    return [
        {"open_id": openid, "sn": device.sn, "model_id": device.model_id, "status": int(openid in authorized)}
        for openid in dict.fromkeys(openid_list)
    ]


def authorizations_of(*, parent: Parent) -> list[DeviceAuthorization]:
    """The caller's authorization records with device and group, for the getDeviceVoIPList shape."""
    return list(
        DeviceAuthorization.objects.filter(parent=parent)
        .select_related("device", "group")
        .order_by("group_id", "device_id")
    )


def call_history(*, contact: Contact):
    """Calls of the contact's student: all of them for the admin, only its own for an ordinary contact."""
    qs = (
        CallRecord.objects.filter(student_id=contact.student_id).select_related("device").order_by("-started_at", "-id")
    )
    return qs if contact.is_admin else qs.filter(openid=contact.parent.openid)
