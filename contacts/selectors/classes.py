"""A class at a glance: per student, its contacts, whether it has an admin contact, and its claim code."""

from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, Subquery

from contacts.models import ClaimCode, Contact
from schools.models import Student

# A student's claim-code state, most telling first: a code a parent may still enter, one a parent
# used, one that expired unused, or none (revoked codes count as none).
CLAIM_USABLE, CLAIM_USED, CLAIM_EXPIRED, CLAIM_NONE = "usable", "used", "expired", "none"


def class_overview(*, school_id: int, class_name: str, now: datetime) -> list[dict]:
    """The active students of one class of one school, by student number: ``[{"student": Student,
    "contacts": int (contacts not on their way out), "has_admin": bool, "claim_code": one of the
    CLAIM_* states, "claim_code_expires_at": datetime | None (the usable code's)}]``. One query."""
    codes = ClaimCode.objects.filter(student_id=OuterRef("pk"))
    usable = ClaimCode.objects.filter(student_id=OuterRef("pk")).usable(now)
    students = (
        Student.objects.active()
        .filter(school_id=school_id, class_name=class_name)
        .annotate(
            n_contacts=Count("contacts", filter=~Q(contacts__state=Contact.State.REMOVING), distinct=True),
            has_admin=Exists(Contact.objects.remaining().filter(student_id=OuterRef("pk"), role=Contact.Role.ADMIN)),
            usable_until=Subquery(usable.order_by("-expires_at").values("expires_at")[:1]),
            used=Exists(codes.filter(used_at__isnull=False)),
            expired=Exists(ClaimCode.objects.filter(student_id=OuterRef("pk")).expired(now)),
        )
        .order_by("student_number", "name", "id")
    )
    return [
        {
            "student": student,
            "contacts": student.n_contacts,
            "has_admin": student.has_admin,
            "claim_code": (
                CLAIM_USABLE
                if student.usable_until
                else CLAIM_USED
                if student.used
                else CLAIM_EXPIRED
                if student.expired
                else CLAIM_NONE
            ),
            "claim_code_expires_at": student.usable_until,
        }
        for student in students
    ]
