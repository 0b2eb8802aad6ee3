"""Row locks of the contacts app, in one place (the Saleor way).

Every change to a student's contacts first locks the student row, then re-reads what it decides
on. One lock per student serialises binding, deletion and admin transfer for that student, so
the contact limit holds and a transfer never leaves zero or two admins. Locks are taken in one
order (student, then contacts) to avoid deadlocks.
"""

from django.db.models import QuerySet

from core.prepared import prepared
from schools.models import Student


@prepared
def _student_locked(*, student_id: int) -> QuerySet:
    return Student.objects.select_for_update(of=("self",)).select_related("school").filter(pk=student_id).order_by()


def student_lock(*, student_id: int) -> Student:
    """``SELECT … FOR UPDATE`` the student row (with its school); call inside a transaction
    (``TransactionManagementError`` outside one, as ``select_for_update`` raises). Raises
    ``Student.DoesNotExist`` as ``get`` does."""
    found = _student_locked(student_id=student_id)
    if not found:
        raise Student.DoesNotExist(f"Student matching pk={student_id} does not exist.")
    return found[0]


def students_lock(*, student_ids) -> list[Student]:
    """``SELECT … FOR UPDATE`` several students (with their schools) in primary-key order, the one
    order every multi-student lock takes; call inside a transaction."""
    return list(
        Student.objects.select_for_update(of=("self",))
        .select_related("school")
        .filter(pk__in=list(student_ids))
        .order_by("pk")
    )
