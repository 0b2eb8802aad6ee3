"""The staff dashboard's numbers about calls (``portal.dashboard``): per local day and top devices.

Each takes ``school_id`` (``None``: every school, for superusers) and scopes with
``schools.tenancy.scoped``. Figures are the usage report's (``calls.selectors.reports``).
"""

from datetime import date, timedelta

from django.db.models import Count, QuerySet, Sum

from calls.models import CallRecord
from calls.selectors.reports import minutes, usage_by_day
from core.local_time import local_midnight
from schools.tenancy import scoped

TOP_DEVICES = 10


def calls_between(*, school_id: int | None, first_day: date, last_day: date) -> QuerySet:
    """The calls started on local days ``first_day`` … ``last_day`` (both included)."""
    return scoped(CallRecord.objects.all(), school_id).filter(
        started_at__gte=local_midnight(first_day), started_at__lt=local_midnight(last_day + timedelta(days=1))
    )


def calls_per_day(calls: QuerySet, days: list[date]) -> list[dict]:
    """``[{"day": ISO date, "calls", "answered", "connected_seconds", "connected_minutes"}]`` for each
    of ``days``, from ``calls`` (one query)."""
    totals = {row["day"]: row["total"] for row in usage_by_day(calls, "school")}
    empty = {"calls": 0, "answered": 0, "connected_seconds": 0}
    return [
        {
            "day": day.isoformat(),
            "calls": totals.get(day, empty)["calls"],
            "answered": totals.get(day, empty)["answered"],
            "connected_seconds": totals.get(day, empty)["connected_seconds"],
            "connected_minutes": float(minutes(totals.get(day, empty)["connected_seconds"])),
        }
        for day in days
    ]


def top_devices(calls: QuerySet) -> list[dict]:
    """The ``TOP_DEVICES`` devices with most of ``calls`` (then most connected time): ``[{"device_id",
    "label", "school", "calls", "connected_seconds", "connected_minutes"}]`` (one query)."""
    rows = (
        calls.order_by()
        .values("device_id", "device__device_name", "device__sn", "school__name")
        .annotate(n_calls=Count("id"), connected=Sum(CallRecord.objects.connected_seconds()))
        .order_by("-n_calls", "-connected", "device_id")[:TOP_DEVICES]
    )
    return [
        {
            "device_id": row["device_id"],
            "label": f"{row['device__device_name']} ({row['device__sn']})",
            "school": row["school__name"],
            "calls": row["n_calls"],
            "connected_seconds": row["connected"] or 0,
            "connected_minutes": float(minutes(row["connected"] or 0)),
        }
        for row in rows
    ]
