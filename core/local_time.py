"""The school's local day, from ``settings.TIME_ZONE`` (Asia/Shanghai) and nowhere else.

Calls are counted per local day (daily minutes, usage report, dashboard): a call at 23:30 in
Beijing belongs to that day, not to the UTC day.
"""

from datetime import date, datetime, time, tzinfo

from django.utils import timezone


def local_tz() -> tzinfo:
    """The portal's time zone (``TIME_ZONE``)."""
    return timezone.get_default_timezone()


def local_today(now: datetime | None = None) -> date:
    """The local date of ``now`` (default: the current time)."""
    return timezone.localdate(now or timezone.now(), local_tz())


def local_at(day: date, at: time) -> datetime:
    """The aware datetime of the local ``day`` at the local time ``at``."""
    return datetime.combine(day, at, tzinfo=local_tz())


def local_midnight(day: date) -> datetime:
    """The aware datetime at which the local ``day`` begins."""
    return local_at(day, time.min)


def local_day_start(moment: datetime) -> datetime:
    """The local midnight that begins the day of ``moment``."""
    return local_midnight(local_today(moment))


def local_now(now: datetime | None = None) -> datetime:
    """``now`` (default: the current time) in the portal's time zone."""
    return timezone.localtime(now or timezone.now(), local_tz())


def local_display(moment: datetime) -> str:
    """``moment`` as staff read it: local date and time to the minute, ``2026-09-01 08:30``."""
    return f"{timezone.localtime(moment, local_tz()):%Y-%m-%d %H:%M}"
