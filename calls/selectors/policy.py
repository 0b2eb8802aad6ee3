"""The call policy that applies to a student now: time limit, daily minutes, calling windows.

Sources: FAQ 1.1 (timeLimit), 1.5 (ring timeout), REFERENCE.md §6 (class-time blocks, repeat
calls). Days are local days (``core.local_time``).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max, Q, QuerySet, Sum

from calls.models import RING_TIMEOUT_MAX, BusinessType, CallingWindow, CallPolicy, CallRecord
from core.local_time import local_day_start, local_now
from core.prepared import prepared
from core.wechat.errcodes import ErrCode
from schools.models import CallMode, Device, Student


@dataclass(frozen=True)
class EffectivePolicy:
    """The call policy that applies to one student: its overrides, else its school's, else defaults."""

    time_limit: int  # seconds
    daily_minutes: int  # minutes; 0 = no limit
    business_type: int
    camera_status: int
    ring_timeout: int  # seconds
    repeat_interval: int  # seconds
    miniprogram_state: str  # initByCaller miniprogramState: formal | trial | developer (FAQ 3.5)


def policy_for(*, student: Student) -> EffectivePolicy:
    """Merge the student's overrides over the school's policy (or the defaults); needs the joins of
    ``calls.selectors.clients.student_get_for_client``."""
    school_policy = getattr(student.school, "call_policy", None) or CallPolicy()
    override = getattr(student, "call_policy", None)

    def pick(name):
        value = getattr(override, name, None) if override is not None else None
        return getattr(school_policy, name) if value is None else value

    return EffectivePolicy(
        time_limit=pick("time_limit"),
        daily_minutes=pick("daily_minutes"),
        business_type=pick("business_type"),
        camera_status=pick("camera_status"),
        ring_timeout=min(pick("ring_timeout"), RING_TIMEOUT_MAX),
        repeat_interval=school_policy.repeat_interval,
        miniprogram_state=student.school.miniprogram_state,
    )


def business_type_for(*, device: Device, policy: EffectivePolicy) -> int:
    """initByCaller businessType of a call from ``device``: the school's face-pay billing (0 or 3) in
    face-pay mode (seed 003 §1), 1 in hardware mode (REFERENCE.md §4)."""
    return policy.business_type if device.call_mode == CallMode.FACE_PAY else BusinessType.DEVICE


def in_calling_window(*, windows: list[CallingWindow], now: datetime) -> bool:
    """True when the school has no windows, or ``now`` (local time) falls inside one."""
    if not windows:
        return True
    local = local_now(now)
    return any(w.weekday == local.weekday() and w.start_time <= local.time() < w.end_time for w in windows)


@dataclass
class Usage:
    used_seconds: int = 0  # connected seconds today
    recent_openids: set = field(default_factory=set)  # called within the repeat interval


@prepared
def _calls_per_openid(*, student_id: int, since: datetime, day_start: datetime) -> QuerySet:
    """Per openid the student called since ``since``: ``{openid, used (connected seconds since
    ``day_start``), last (latest start)}``."""
    return (
        CallRecord.objects.filter(student_id=student_id, started_at__gte=since)
        .values("openid")
        .annotate(
            used=Sum(CallRecord.objects.connected_seconds(), filter=Q(started_at__gte=day_start)),
            last=Max("started_at"),
        )
        .order_by()
    )


@prepared
def _calling_windows(*, school_id: int) -> QuerySet:
    return CallingWindow.objects.filter(school_id=school_id).order_by()


def usage_today(*, student: Student, repeat_interval: int, now: datetime) -> Usage:
    """Connected seconds the student used today (local day) and openids called in the last ``repeat_interval`` s.

    One query.
    """
    day_start = local_day_start(now)
    recent_since = now - timedelta(seconds=repeat_interval)
    rows = _calls_per_openid(student_id=student.pk, since=min(day_start, recent_since), day_start=day_start)
    usage = Usage()
    for row in rows:
        usage.used_seconds += row["used"] or 0
        if row["last"] >= recent_since:
            usage.recent_openids.add(row["openid"])
    return usage


def student_gate(*, student: Student, policy: EffectivePolicy, now: datetime) -> tuple[int, Usage, int]:
    """Window and daily-minute checks of the check and the call plan → ``(errcode, usage, time_limit)``.

    errcode 0, 9300004 (outside the calling windows) or 9300005 (daily minutes used up);
    ``time_limit`` (seconds) is the policy's, cut to the student's remaining daily minutes.
    """
    if not in_calling_window(windows=_calling_windows(school_id=student.school_id), now=now):
        return ErrCode.OUTSIDE_WINDOW, Usage(), 0
    usage = usage_today(student=student, repeat_interval=policy.repeat_interval, now=now)
    time_limit = policy.time_limit
    if policy.daily_minutes:
        remaining = policy.daily_minutes * 60 - usage.used_seconds
        if remaining <= 0:
            return ErrCode.DAILY_MINUTES_USED, usage, 0
        time_limit = min(time_limit, remaining)
    return ErrCode.OK, usage, time_limit
