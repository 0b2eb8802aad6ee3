"""The audit row every state change writes, in the change's transaction: who, what, when, why."""

from schools.models import AuditLog, School, Student


def audit_log_build(
    *,
    action: str,
    school: School | None = None,
    student: Student | None = None,
    actor_user=None,
    actor_openid: str = "",
    reason: str = "",
    data: dict | None = None,
) -> AuditLog:
    """An unsaved audit row (who, what, when, why); the school is the student's unless given."""
    if school is None and student is not None:
        school = student.school
    return AuditLog(
        school=school,
        student=student,
        actor_user=actor_user if getattr(actor_user, "pk", None) else None,
        actor_openid=actor_openid,
        action=action,
        reason=str(reason),
        data=data or {},
    )


def audit_log_record(**fields) -> AuditLog:
    """Write one audit row (``audit_log_build``'s fields); call it inside the change's transaction."""
    row = audit_log_build(**fields)
    row.save()
    return row


def audit_logs_record(rows: list[AuditLog]) -> None:
    """Write many audit rows (``audit_log_build``) at once; call it inside the change's transaction."""
    AuditLog.objects.bulk_create(rows, batch_size=1000)
