"""The audit row every state change writes, in the change's transaction: who, what, when, why.

An audit row of a contact change (``EVENT_OF_ACTION``) also writes its outbox event
(``schools.services.events``), so that every such change reaches the school's systems.
"""

from django.db.models import QuerySet

from schools.models import AuditLog, School, Student
from schools.services.events import events_emit

CONTACT_CHANGED = "contact.changed"
CONTACT_CHANGE_ACTIONS = [
    AuditLog.Action.ADMIN_BOUND,
    AuditLog.Action.CONTACT_BOUND,
    AuditLog.Action.CONTACT_DELETED,
    AuditLog.Action.CONTACT_UNBOUND,
    AuditLog.Action.ADMIN_TRANSFERRED,
    AuditLog.Action.STAFF_CONTACT_REMOVED,
    AuditLog.Action.STAFF_ADMIN_TRANSFERRED,
    AuditLog.Action.CONTACT_REMOVAL_REPORTED,
    AuditLog.Action.ADMIN_TRANSFER_REPORTED,
    AuditLog.Action.BINDING_RELEASED,
    AuditLog.Action.WECHAT_CONTACT_CONFIRMED,
    AuditLog.Action.WECHAT_CONTACT_FOUND,
    AuditLog.Action.WECHAT_CONTACT_MISSING,
    AuditLog.Action.WECHAT_CONTACT_REMOVED,
    AuditLog.Action.WECHAT_ROLE_ALIGNED,
]
EVENT_OF_ACTION = dict.fromkeys(CONTACT_CHANGE_ACTIONS, CONTACT_CHANGED) | {
    AuditLog.Action.STAFF_STUDENT_DEACTIVATED: "student.deactivated",
}


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
    """Write one audit row (``audit_log_build``'s fields), and its event; call it inside the change's
    transaction."""
    row = audit_log_build(**fields)
    row.save()
    _events_of([row])
    return row


def audit_logs_record(rows: list[AuditLog]) -> None:
    """Write many audit rows (``audit_log_build``) at once, and their events; call it inside the
    change's transaction."""
    AuditLog.objects.bulk_create(rows, batch_size=1000)
    _events_of(rows)


def audit_log_has_event(row: AuditLog) -> bool:
    """Whether ``row`` must have its outbox event (``EVENT_OF_ACTION``, of a school); ``audit_logs_with_event``
    is the same rule as a query."""
    return row.action in EVENT_OF_ACTION and row.school_id is not None


def audit_logs_with_event() -> QuerySet:
    """The audit rows that must have their outbox event (``audit_log_has_event``), as a queryset."""
    return AuditLog.objects.filter(action__in=list(EVENT_OF_ACTION), school__isnull=False)


def _events_of(rows: list[AuditLog]) -> None:
    """The outbox events of the rows whose action is an event (``EVENT_OF_ACTION``), each tied to its row."""
    rows = [row for row in rows if audit_log_has_event(row)]
    events_emit(
        [
            (
                row.school_id,
                EVENT_OF_ACTION[row.action],
                {
                    "action": row.action,
                    "user_id": row.student.user_id if row.student_id else "",
                    "actor_openid": row.actor_openid,
                    "by_staff": row.actor_user_id is not None,
                    "reason": row.reason,
                    "detail": row.data,
                },
                row.created_at,
            )
            for row in rows
        ],
        audit_log_ids=[row.pk for row in rows],
    )
