"""Row locks of the contacts app, in one place (the Saleor way).

Every change to a student's contacts first locks the student row, then re-reads what it decides
on. One lock per student serialises binding, deletion and admin transfer for that student, so
the contact limit holds and a transfer never leaves zero or two admins. Locks are taken in one
order (student, then contacts) to avoid deadlocks.
"""

from schools.models import Student


def student_lock(*, student_id: int) -> Student:
    """``SELECT … FOR UPDATE`` the student row (with its school); call inside a transaction."""
    return Student.objects.select_for_update(of=("self",)).select_related("school").get(pk=student_id)


def students_lock(*, student_ids) -> list[Student]:
    """``SELECT … FOR UPDATE`` several students (with their schools) in primary-key order, the one
    order every multi-student lock takes; call inside a transaction."""
    return list(
        Student.objects.select_for_update(of=("self",))
        .select_related("school")
        .filter(pk__in=list(student_ids))
        .order_by("pk")
    )
