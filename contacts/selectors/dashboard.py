"""The staff dashboard's numbers about students' contacts and share links (``portal.dashboard``).

Each takes ``school_id`` (``None``: every school, for superusers) and scopes with
``schools.tenancy.scoped``; days are local dates (``core.local_time``). One query each.
"""

from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncDate

from contacts.models import Contact, ShareLink
from core.local_time import local_midnight, local_tz
from schools.grades import class_sort_key
from schools.models import Student
from schools.tenancy import scoped


def class_contact_counts(*, school_id: int | None) -> list[dict]:
    """Active students per (school, class), by school name then class in school order:
    ``[{"school_id", "school", "class_name", "students", "without_contact", "without_admin"}]``.

    A deactivated student needs no contact, so only active students are counted.
    """
    has_contact = Exists(Contact.objects.filter(student_id=OuterRef("pk")))
    has_admin = Exists(Contact.objects.filter(student_id=OuterRef("pk"), role=Contact.Role.ADMIN))
    rows = (
        scoped(Student.objects.active(), school_id)
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


def bindings_per_day(*, school_id: int | None, days: list[date]) -> list[dict]:
    """Contacts bound on each of ``days`` (local dates of ``bound_at``): ``[{"day": ISO date, "bindings"}]``."""
    counts = dict(
        scoped(Contact.objects.all(), school_id)
        .filter(bound_at__gte=local_midnight(days[0]), bound_at__lt=local_midnight(days[-1] + timedelta(days=1)))
        .order_by()
        .annotate(day=TruncDate("bound_at", tzinfo=local_tz()))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return [{"day": day.isoformat(), "bindings": counts.get(day, 0)} for day in days]


def share_link_counts(*, school_id: int | None, now: datetime) -> dict:
    """``{"active", "expired", "revoked"}`` share links, by effective state: an active link past
    ``expires_at`` counts as expired even before the sweep runs (``ShareLinkQuerySet``)."""
    return scoped(ShareLink.objects.all(), school_id).aggregate(
        active=Count("id", filter=ShareLink.objects.usable_q(now)),
        expired=Count("id", filter=ShareLink.objects.expired_q(now)),
        revoked=Count("id", filter=ShareLink.objects.revoked_q()),
    )
