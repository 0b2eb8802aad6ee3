"""Deactivating students: the one rule, used by staff (one or a class) and by the roster import."""

from django.db import transaction
from django.utils import timezone

from contacts.locks import students_lock
from contacts.services.share_links import share_links_revoke
from schools.models import AuditLog, Student
from schools.services.audit import audit_log_build, audit_logs_record
from schools.tenancy import SYSTEM, staff_check

BATCH = 1000  # students locked and changed per statement (SQLite allows 32,766 parameters)


@transaction.atomic
def students_deactivate(*, student_ids, actor_user=SYSTEM, reason: str, data: dict | None = None) -> int:
    """Deactivate students (left school, graduated): no binding and no calls any more; their share
    links are revoked. Contacts are kept, so reactivating a student restores them.

    ``student_ids``: students of any number; those already inactive are left alone. Locks the
    students (primary-key order, ``contacts.locks``), then writes one ``staff_student_deactivated``
    audit row per student with ``reason`` and ``data`` plus ``share_links_revoked``. Returns how
    many students were deactivated. ``NotFound`` / ``Forbidden`` unless ``actor_user`` may change
    every student's school (``staff_check``; the roster import passes its staff user).
    """
    ids = sorted(set(student_ids))
    staff_check(actor_user, school_ids=Student.objects.filter(pk__in=ids).values_list("school_id", flat=True))
    now = timezone.now()
    deactivated: list[Student] = []
    revoked = {}
    for start in range(0, len(ids), BATCH):
        batch = [s for s in students_lock(student_ids=ids[start : start + BATCH]) if s.is_active]
        batch_ids = [s.pk for s in batch]
        Student.objects.filter(pk__in=batch_ids).update(is_active=False, updated_at=now)
        revoked.update(share_links_revoke(student_ids=batch_ids, now=now))
        deactivated += batch
    rows = [
        audit_log_build(
            action=AuditLog.Action.STAFF_STUDENT_DEACTIVATED,
            student=student,
            actor_user=actor_user,
            reason=reason,
            data={**(data or {}), "share_links_revoked": revoked.get(student.pk, 0)},
        )
        for student in deactivated
    ]
    audit_logs_record(rows)
    return len(deactivated)
