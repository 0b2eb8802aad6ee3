"""The admin index's dashboard (issue 4 §6): composed from each app's dashboard selectors.

``contacts.selectors.dashboard`` counts students without contacts or admin, bindings and share
links; ``calls.selectors.dashboard`` counts calls and minutes. ``portal.admin_site`` decides who
sees which school (``schools.tenancy``) and links the numbers to the filtered changelists.
"""

from datetime import date, timedelta

from django.utils import timezone

from calls.selectors.dashboard import calls_between, calls_per_day, top_devices
from calls.selectors.reports import minutes
from contacts.selectors.dashboard import bindings_per_day, class_contact_counts, share_link_counts
from core.local_time import local_today, local_tz

DAYS = 30  # the per-day series cover the last 30 local days, today included


def dashboard_period(today: date | None = None) -> tuple[date, date]:
    """``(first_day, last_day)`` of the per-day series: the last ``DAYS`` local days, ``today`` included."""
    today = today or local_today()
    return today - timedelta(days=DAYS - 1), today


def dashboard_data(*, school_id: int | None, today: date | None = None) -> dict:
    """The dashboard of one school (``school_id``), or of all schools added up (``None``, superusers).

    ``today`` is the last local day of the series (default: today in ``TIME_ZONE``). Five SQL
    queries, whatever the amount of data. Every value is JSON-ready (the JSON endpoint returns
    this dict as is); days are ISO dates, ``*_seconds`` are seconds, ``*_minutes`` are minutes
    (seconds / 60, one decimal, as in the usage report)::

        {
          "school_id": int | None,
          "period": {"first_day": "YYYY-MM-DD", "last_day": "YYYY-MM-DD", "days": 30, "timezone": "Asia/Shanghai"},
          "classes": [   # active students per (school, class), by school name then class (school order)
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
    calls = calls_between(school_id=school_id, first_day=first_day, last_day=last_day)
    classes = class_contact_counts(school_id=school_id)
    per_day = calls_per_day(calls, days)
    connected = sum(day["connected_seconds"] for day in per_day)
    return {
        "school_id": school_id,
        "period": {
            "first_day": first_day.isoformat(),
            "last_day": last_day.isoformat(),
            "days": len(days),
            "timezone": str(local_tz()),
        },
        "classes": classes,
        "students": {key: sum(row[key] for row in classes) for key in ("students", "without_contact", "without_admin")},
        "bindings": bindings_per_day(school_id=school_id, days=days),
        "share_links": share_link_counts(school_id=school_id, now=timezone.now()),
        "calls": per_day,
        "calls_total": {
            "calls": sum(day["calls"] for day in per_day),
            "answered": sum(day["answered"] for day in per_day),
            "connected_seconds": connected,
            "connected_minutes": float(minutes(connected)),
        },
        "top_devices": top_devices(calls),
    }
