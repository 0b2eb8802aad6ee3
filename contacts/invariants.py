"""The contacts app's invariants (``schools.invariants`` explains the mechanism; issue 10 §4).

- a student's contacts stay within its school's ``contact_limit`` (counted as the binding services
  count them, ``ContactQuerySet.in_contact_limit``), unless WeChat itself holds more and
  reconciliation flagged it (an open ``over_limit`` difference, seed 003 §2.2);
- a student with any contact has exactly one admin contact (seed 003 §2.1, §2.4);
- every bindContact outcome of a student (``BindEvent``) has its outbox event (``bindContact``).
"""

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from contacts.models import BindEvent, BindingDifference, Contact
from contacts.services.bind_events import BIND_CONTACT_EVENT
from core.local_time import local_display
from schools.invariants import Breaks, Invariant, breaks_in
from schools.models import OutboxEvent, Student


def student_label(student: Student) -> str:
    """How a problem line names a student: its name and ``user_id``."""
    return f"{student.name} ({student.user_id})"


def students_over_contact_limit(limit: int) -> Breaks:
    """Students with more contacts than their school's ``contact_limit`` and no open ``over_limit``
    difference (WeChat holding more than the limit is recorded and flagged, not prevented)."""
    counted = (
        Contact.objects.in_contact_limit()
        .filter(student=OuterRef("pk"))
        .order_by()
        .values("student")
        .annotate(n=Count("pk"))
        .values("n")
    )
    flagged = BindingDifference.objects.filter(
        student=OuterRef("pk"), kind=BindingDifference.Kind.OVER_LIMIT, resolved_at__isnull=True
    )
    students = (
        Student.objects.annotate(contacts_n=Coalesce(Subquery(counted), 0))
        .filter(contacts_n__gt=F("school__contact_limit"))
        .exclude(Exists(flagged))
        .select_related("school")
        .order_by("pk")
    )
    return breaks_in(
        students,
        lambda s: (
            _("%(student)s has %(count)d contacts; the school's limit is %(limit)d.")
            % {"student": student_label(s), "count": s.contacts_n, "limit": s.school.contact_limit}
        ),
        limit=limit,
    )


def students_without_one_admin(limit: int) -> Breaks:
    """Students with at least one contact and no admin contact, or several (the partial unique index
    forbids several: a database without it is reported too)."""
    students = (
        Student.objects.annotate(
            contacts_n=Count("contacts"), admins_n=Count("contacts", filter=Q(contacts__role=Contact.Role.ADMIN))
        )
        .filter(contacts_n__gt=0)
        .exclude(admins_n=1)
        .order_by("pk")
    )
    return breaks_in(
        students,
        lambda s: (
            _("%(student)s has %(admins)d admin contacts among %(count)d contacts.")
            % {"student": student_label(s), "admins": s.admins_n, "count": s.contacts_n}
        ),
        limit=limit,
    )


def bind_events_without_outbox_event(limit: int) -> Breaks:
    """bindContact outcomes of a student with no ``bindContact`` outbox event of the same school, time,
    openid and type (``contacts.services.bind_events.bind_event_record`` writes both)."""
    told = (
        OutboxEvent.objects.filter(
            type=BIND_CONTACT_EVENT, school_id=OuterRef("student__school_id"), created_at=OuterRef("created_at")
        )
        .alias(told_openid=KT("data__openid"), told_type=KT("data__type"))
        .filter(told_openid=OuterRef("openid"), told_type=OuterRef("type"))
    )
    events = BindEvent.objects.filter(student__isnull=False).exclude(Exists(told)).order_by("id")
    return breaks_in(
        events,
        lambda e: (
            _("bindContact event %(id)d (%(type)s, %(openid)s → %(user_id)s, %(time)s) has no outbox event.")
            % {
                "id": e.pk,
                "type": e.type,
                "openid": e.openid,
                "user_id": e.user_id,
                "time": local_display(e.created_at),
            }
        ),
        limit=limit,
    )


INVARIANTS = (
    Invariant(
        "contacts.contact_limit",
        _("A student's contacts stay within the school's contact limit (or WeChat's excess is flagged)."),
        students_over_contact_limit,
    ),
    Invariant(
        "contacts.one_admin",
        _("A student with contacts has exactly one admin contact."),
        students_without_one_admin,
    ),
    Invariant(
        "contacts.bind_events_have_events",
        _("Every bindContact outcome of a student has its outbox event."),
        bind_events_without_outbox_event,
    ),
)
