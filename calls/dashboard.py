"""The numbers of the admin index's dashboard (issue 4 §6), for one school or all of them.

``dashboard_data`` runs five aggregate SQL queries, whatever the number of students, contacts,
share links or calls. Days are local dates (Asia/Shanghai, ``calls.reports.LOCAL_TZ``); call
figures are those of the usage report (``calls.reports.usage_by_day``): connected time is
``billed_seconds`` when WeChat reported it, else the device's ``keep_time``.

This module only selects; ``portal.admin_site`` decides who sees what (``staff_school_id``) and
links the numbers to the filtered changelists.
"""

import re
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from contacts.models import Contact, ShareLink
from schools.models import Student

from .models import CallRecord
from .reports import _CONNECTED, LOCAL_TZ, _minutes, usage_by_day

DAYS = 30  # the per-day series cover the last 30 local days, today included
TOP_DEVICES = 10


def _scoped(queryset: QuerySet, school_path: str, school_id: int | None) -> QuerySet:
    return queryset if school_id is None else queryset.filter(**{f"{school_path}_id": school_id})


def local_midnight(day: date) -> datetime:
    """The aware datetime at which the local (Asia/Shanghai) ``day`` begins."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def dashboard_period(today: date | None = None) -> tuple[date, date]:
    """``(first_day, last_day)`` of the per-day series: the last ``DAYS`` local days, ``today`` included."""
    today = today or timezone.localdate(timezone.now(), LOCAL_TZ)
    return today - timedelta(days=DAYS - 1), today


_NUMERALS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER_RUN = re.compile(r"(\d+|[零〇一二两三四五六七八九十]+)")


def _chinese_number(run: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23 (up to 99: grades and classes)."""
    if "十" not in run:
        return int("".join(str(_NUMERALS[c]) for c in run))
    tens, _ten, ones = run.partition("十")
    return (_NUMERALS.get(tens, 1) if tens else 1) * 10 + (_NUMERALS.get(ones, 0) if ones else 0)


def class_sort_key(name: str) -> tuple:
    """Natural order of class names: 一年级2班 < 二年级1班 < 十年级1班, 2班 < 10班."""
    parts = _NUMBER_RUN.split(name)
    return tuple(
        (1, int(part) if part.isdigit() else _chinese_number(part), "") if n % 2 else (0, 0, part)
        for n, part in enumerate(parts)
    )


def _classes(school_id: int | None) -> list[dict]:
    has_contact = Exists(Contact.objects.filter(student_id=OuterRef("pk")))
    has_admin = Exists(Contact.objects.filter(student_id=OuterRef("pk"), role=Contact.Role.ADMIN))
    rows = (
        _scoped(Student.objects.filter(is_active=True), "school", school_id)
        .order_by()
        .values("school_id", "school__name", "class_name")
        .annotate(
            n=Count("id"),
            n_without_contact=Count("id", filter=~Q(has_contact)),
            n_without_admin=Count("id", filter=~Q(has_admin)),
        )
    )
    rows = sorted(rows, key=lambda row: (row["school__name"], row["school_id"], class_sort_key(row["class_name"])))
    return [
        {
            "school_id": row["school_id"],
            "school": row["school__name"],
            "class_name": row["class_name"],
            "students": row["n"],
            "without_contact": row["n_without_contact"],
            "without_admin": row["n_without_admin"],
        }
        for row in rows
    ]


def _bindings(school_id: int | None, days: list[date]) -> list[dict]:
    counts = dict(
        _scoped(Contact.objects.all(), "student__school", school_id)
        .filter(bound_at__gte=local_midnight(days[0]), bound_at__lt=local_midnight(days[-1] + timedelta(days=1)))
        .order_by()
        .annotate(day=TruncDate("bound_at", tzinfo=LOCAL_TZ))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return [{"day": day.isoformat(), "bindings": counts.get(day, 0)} for day in days]


def _share_links(school_id: int | None, now: datetime) -> dict:
    """Effective states: an active link past ``expires_at`` counts as expired even before the sweep runs."""
    return _scoped(ShareLink.objects.all(), "student__school", school_id).aggregate(
        active=Count("id", filter=Q(state=ShareLink.State.ACTIVE, expires_at__gt=now)),
        expired=Count("id", filter=Q(state__in=[ShareLink.State.ACTIVE, ShareLink.State.EXPIRED], expires_at__lte=now)),
        revoked=Count("id", filter=Q(state=ShareLink.State.REVOKED)),
    )


def _calls(calls: QuerySet, days: list[date]) -> list[dict]:
    totals = {row["day"]: row["total"] for row in usage_by_day(calls, "school")}
    empty = {"calls": 0, "answered": 0, "connected_seconds": 0}
    return [
        {
            "day": day.isoformat(),
            "calls": totals.get(day, empty)["calls"],
            "answered": totals.get(day, empty)["answered"],
            "connected_seconds": totals.get(day, empty)["connected_seconds"],
            "connected_minutes": float(_minutes(totals.get(day, empty)["connected_seconds"])),
        }
        for day in days
    ]


def _top_devices(calls: QuerySet) -> list[dict]:
    rows = (
        calls.order_by()
        .values("device_id", "device__device_name", "device__sn", "school__name")
        .annotate(n_calls=Count("id"), connected=Sum(_CONNECTED))
        .order_by("-n_calls", "-connected", "device_id")[:TOP_DEVICES]
    )
    return [
        {
            "device_id": row["device_id"],
            "label": f"{row['device__device_name']} ({row['device__sn']})",
            "school": row["school__name"],
            "calls": row["n_calls"],
            "connected_seconds": row["connected"] or 0,
            "connected_minutes": float(_minutes(row["connected"] or 0)),
        }
        for row in rows
    ]


def dashboard_data(*, school_id: int | None, today: date | None = None) -> dict:
    """The dashboard of one school (``school_id``), or of all schools added up (``None``, superusers).

    ``today`` is the last local day of the series (default: today in Asia/Shanghai). Five SQL
    queries, whatever the amount of data. Every value is JSON-ready (the JSON endpoint returns
    this dict as is); days are ISO dates, ``*_seconds`` are seconds, ``*_minutes`` are minutes
    (seconds / 60, one decimal, as in the usage report)::

        {
          "school_id": int | None,
          "period": {"first_day": "YYYY-MM-DD", "last_day": "YYYY-MM-DD", "days": 30, "timezone": "Asia/Shanghai"},
          "classes": [   # active students per (school, class), by school name then class (natural order)
            {"school_id", "school", "class_name", "students", "without_contact", "without_admin"}, ...
          ],
          "students": {"students", "without_contact", "without_admin"},   # the classes added up
          "bindings": [{"day", "bindings"}, ...],        # contacts by local date of bound_at, oldest first, 30 days
          "share_links": {"active", "expired", "revoked"},   # all links; active = not past expires_at
          "calls": [{"day", "calls", "answered", "connected_seconds", "connected_minutes"}, ...],  # 30 days
          "calls_total": {"calls", "answered", "connected_seconds", "connected_minutes"},
          "top_devices": [   # the 10 devices with most calls in the period (then most connected time)
            {"device_id", "label", "school", "calls", "connected_seconds", "connected_minutes"}, ...
          ],
        }

    Only active students are counted in ``classes``: a deactivated student needs no contact.
    """
    first_day, last_day = dashboard_period(today)
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    calls = _scoped(CallRecord.objects.all(), "school", school_id).filter(
        started_at__gte=local_midnight(first_day), started_at__lt=local_midnight(last_day + timedelta(days=1))
    )
    classes = _classes(school_id)
    per_day = _calls(calls, days)
    connected = sum(day["connected_seconds"] for day in per_day)
    return {
        "school_id": school_id,
        "period": {
            "first_day": first_day.isoformat(),
            "last_day": last_day.isoformat(),
            "days": len(days),
            "timezone": str(LOCAL_TZ),
        },
        "classes": classes,
        "students": {key: sum(row[key] for row in classes) for key in ("students", "without_contact", "without_admin")},
        "bindings": _bindings(school_id, days),
        "share_links": _share_links(school_id, timezone.now()),
        "calls": per_day,
        "calls_total": {
            "calls": sum(day["calls"] for day in per_day),
            "answered": sum(day["answered"] for day in per_day),
            "connected_seconds": connected,
            "connected_minutes": float(_minutes(connected)),
        },
        "top_devices": _top_devices(calls),
    }
