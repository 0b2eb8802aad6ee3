"""Reports of calls per local day (``TIME_ZONE``, Asia/Shanghai): usage per school, device or
class, and initByCaller failures per device and errCode.

Units: ``calls`` and ``answered`` are counts; minutes are seconds / 60 rounded to one decimal;
traffic is in MB. Connected time is ``billed_seconds`` (finishVoip keepTime) when WeChat reported
it, else the device's ``keep_time`` (``CallRecordQuerySet.connected_seconds``); unanswered calls have 0.

Traffic is an estimate from seed 002 FAQ 1.8 (REFERENCE.md §4): voice ≈ 2 MB per connected minute,
video ≈ 10–30 MB per minute, of which the report takes the middle, 20 MB per minute.
"""

from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from calls.models import CallRecord, RoomType
from core.local_time import local_tz
from core.wechat.errcodes import ErrCode
from schools.grades import class_sort_key

VOICE_MB_PER_MINUTE = 2  # FAQ 1.8
VIDEO_MB_PER_MINUTE = 20  # FAQ 1.8 says 10–30; the middle of the range

# by → (fields grouped on, ordering within a day)
GROUPINGS = {
    "school": (("school_id", "school__name"), ("school__name", "school_id")),
    "device": (
        ("device_id", "device__device_name", "device__sn", "school__name"),
        ("school__name", "device__device_name", "device__sn", "device_id"),
    ),
    "class": (
        ("school_id", "school__name", "student__class_name"),
        ("school__name", "school_id", "student__class_name"),
    ),
}
DEFAULT_GROUPING = "school"


def minutes(seconds: int) -> Decimal:
    """Seconds as minutes, rounded half up to one decimal (the report's and the dashboard's unit)."""
    return (Decimal(seconds) / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _traffic_mb(voice_seconds: int, video_seconds: int) -> Decimal:
    mb = Decimal(voice_seconds * VOICE_MB_PER_MINUTE + video_seconds * VIDEO_MB_PER_MINUTE) / 60
    return mb.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _figures(*, calls: int, answered: int, connected: int, billed: int, video: int) -> dict:
    return {
        "calls": calls,
        "answered": answered,
        "connected_seconds": connected,
        "billed_seconds": billed,
        "video_seconds": video,
        "connected_minutes": minutes(connected),
        "billed_minutes": minutes(billed),
        "traffic_mb": _traffic_mb(connected - video, video),
    }


def _label(by: str, row: dict) -> str:
    if by == "device":
        return f"{row['device__device_name']} ({row['device__sn']})"
    if by == "class":
        return row["student__class_name"] or "—"
    return row["school__name"]


def usage_total(rows: list[dict]) -> dict:
    """Figures of several rows (or day totals) added up, from their seconds, not their rounded minutes."""
    return _figures(
        calls=sum(r["calls"] for r in rows),
        answered=sum(r["answered"] for r in rows),
        connected=sum(r["connected_seconds"] for r in rows),
        billed=sum(r["billed_seconds"] for r in rows),
        video=sum(r["video_seconds"] for r in rows),
    )


def usage_by_day(queryset: QuerySet, by: str = DEFAULT_GROUPING) -> list[dict]:
    """Usage of the call records in ``queryset`` per local day, newest day first, grouped ``by``.

    ``by`` is ``school``, ``device`` or ``class`` (the student's class within its school); anything
    else means ``school``. Returns ``[{"day": date, "rows": [row, ...], "total": figures}]`` where a
    row is ``{"label", "school", figures}`` (and ``class_name`` by class; classes in school order,
    ``schools.grades``) and figures are ``calls``, ``answered`` (counts),
    ``connected_seconds``, ``billed_seconds``, ``video_seconds`` (seconds), ``connected_minutes``,
    ``billed_minutes`` (minutes, one decimal) and ``traffic_mb`` (MB, one decimal; voice 2 MB/min,
    video 20 MB/min, FAQ 1.8). One SQL query, whatever the number of calls, days or groups.
    """
    fields, ordering = GROUPINGS.get(by, GROUPINGS[DEFAULT_GROUPING])
    by = by if by in GROUPINGS else DEFAULT_GROUPING
    aggregated = (
        queryset.order_by()
        .annotate(day=TruncDate("started_at", tzinfo=local_tz()))
        .values("day", *fields)
        .annotate(
            n_calls=Count("id"),
            n_answered=Count("id", filter=CallRecord.objects.answered_q()),
            connected=Sum(CallRecord.objects.connected_seconds()),
            billed=Sum("billed_seconds"),
            video=Sum(CallRecord.objects.connected_seconds(), filter=Q(room_type=RoomType.VIDEO)),
        )
        .order_by("-day", *ordering)
    )
    days: dict = defaultdict(list)
    for row in aggregated:
        days[row["day"]].append(
            {
                "label": _label(by, row),
                "school": row["school__name"],
                **({"class_name": row["student__class_name"] or ""} if by == "class" else {}),
                **_figures(
                    calls=row["n_calls"],
                    answered=row["n_answered"],
                    connected=row["connected"] or 0,
                    billed=row["billed"] or 0,
                    video=row["video"] or 0,
                ),
            }
        )
    for rows in days.values():
        if by == "class":  # school order (2班 < 10班), which SQL's ORDER BY class_name is not
            rows.sort(key=lambda r: (r["school"], class_sort_key(r["class_name"])))
    return [{"day": day, "rows": rows, "total": usage_total(rows)} for day, rows in days.items()]


def err_code_meaning(err_code: int) -> str:
    """What an initByCaller errCode means (REFERENCE.md §4; the portal's 93000xx), or "" if unknown."""
    try:
        return ErrCode(err_code).errmsg
    except ValueError:
        return ""


def init_failures_by_day(queryset: QuerySet) -> list[dict]:
    """initByCaller refusals of the call records in ``queryset``, per local day and device.

    Returns ``[{"day": date, "err_codes": [int], "rows": [{"label", "school", "counts": [int], "total"}],
    "total": int}]``, newest day first; ``counts`` follows ``err_codes`` (the errCodes seen that
    day, ascending). Calls without an errCode are left out. One SQL query.
    """
    aggregated = (
        queryset.filter(err_code__isnull=False)
        .order_by()
        .annotate(day=TruncDate("started_at", tzinfo=local_tz()))
        .values("day", "device_id", "device__device_name", "device__sn", "school__name", "err_code")
        .annotate(n=Count("id"))
        .order_by("-day", "school__name", "device__device_name", "device__sn", "err_code")
    )
    days: dict = {}
    for row in aggregated:
        day = days.setdefault(row["day"], {"day": row["day"], "devices": {}, "err_codes": set()})
        device = day["devices"].setdefault(
            row["device_id"],
            {"label": _label("device", row), "school": row["school__name"], "by_code": {}},
        )
        device["by_code"][row["err_code"]] = row["n"]
        day["err_codes"].add(row["err_code"])
    report = []
    for day in days.values():
        codes = sorted(day["err_codes"])
        rows = [
            {
                "label": d["label"],
                "school": d["school"],
                "counts": [d["by_code"].get(code, 0) for code in codes],
                "total": sum(d["by_code"].values()),
            }
            for d in day["devices"].values()
        ]
        report.append(
            {
                "day": day["day"],
                "err_codes": [(code, err_code_meaning(code)) for code in codes],
                "rows": rows,
                "total": sum(r["total"] for r in rows),
            }
        )
    return report


def usage_series(days: list[dict]) -> list[dict]:
    """The day totals of ``usage_by_day(...)`` as a chart's series, oldest day first, every day from the
    first to the last one present (a day without calls is 0, not left out): ``[{"day": "YYYY-MM-DD",
    "calls": int, "connected_minutes": float (minutes), "traffic_mb": float (MB)}]``. JSON-ready."""
    totals = {day["day"]: day["total"] for day in days}
    if not totals:
        return []
    first, last = min(totals), max(totals)
    zero = usage_total([])
    series = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        total = totals.get(day, zero)
        series.append(
            {
                "day": day.isoformat(),
                "calls": total["calls"],
                "connected_minutes": float(total["connected_minutes"]),
                "traffic_mb": float(total["traffic_mb"]),
            }
        )
    return series


def device_recent_calls(*, device_id: int, limit: int = 10) -> list:
    """The device's last ``limit`` calls, newest first, with student and parent (one query)."""
    return list(
        CallRecord.objects.filter(device_id=device_id)
        .select_related("student", "parent")
        .order_by("-started_at", "-id")[:limit]
    )


def device_init_failures(*, device_id: int, since) -> list[dict]:
    """The device's initByCaller refusals since ``since`` (an aware datetime) by errCode, most frequent
    first: ``[{"err_code": int, "meaning": str, "calls": int}]`` (one query)."""
    counts = (
        CallRecord.objects.filter(device_id=device_id, err_code__isnull=False, started_at__gte=since)
        .order_by()
        .values("err_code")
        .annotate(n=Count("id"))
        .order_by("-n", "err_code")
    )
    return [
        {"err_code": row["err_code"], "meaning": err_code_meaning(row["err_code"]), "calls": row["n"]} for row in counts
    ]
