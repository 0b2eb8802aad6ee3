"""Staff actions on a student's contacts, for real-life cases the parents cannot solve themselves.

Each action is one transaction under the student lock, requires a reason, and writes an audit row
(who, when, what, why) that the student's admin page shows. Staff act only within their school:
a student of another school raises ``NotFound`` (issue 4 §5; binding rules: seed 003 §2).
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.errors import ApplicationError, NotFound
from schools.models import AuditLog, StaffMembership, Student
from schools.services import audit_log_record

from .locks import student_lock
from .models import BindEvent, Contact, ShareLink
from .services import _bind_event


def _check(*, user, student: Student, reason: str) -> Student:
    if not reason or not reason.strip():
        raise ApplicationError(_("Give a reason; it is kept in the audit record."), field="reason")
    if not user.is_superuser:
        membership = StaffMembership.objects.filter(user=user).first()
        if membership is None or membership.school_id != student.school_id:
            raise NotFound(_("No such student in your school."), field="student")
        if membership.role != StaffMembership.Role.ADMIN:
            raise NotFound(_("Read-only staff cannot change contacts."), field="student")
    return student_lock(student_id=student.pk)


def _revoke_links(*, student: Student, issuer_id: int | None = None) -> int:
    links = ShareLink.objects.filter(student=student, state=ShareLink.State.ACTIVE)
    if issuer_id is not None:
        links = links.filter(issued_by_id=issuer_id)
    return links.update(state=ShareLink.State.REVOKED, revoked_at=timezone.now())


@transaction.atomic
def staff_contact_remove(*, user, student: Student, openid: str, reason: str) -> None:
    """Remove one contact of ``student``; removing the admin also revokes its share links.

    Records a ``cancel`` event and an audit row. Raises ``NotFound`` (field ``openid``) when the
    openid is not a contact, ``ApplicationError`` (field ``reason``) without a reason.
    """
    student = _check(user=user, student=student, reason=reason)
    contact = Contact.objects.select_related("parent").filter(student=student, parent__openid=openid).first()
    if contact is None:
        raise NotFound(_("Not a contact of this student."), field="openid")
    revoked = _revoke_links(student=student, issuer_id=contact.parent_id) if contact.is_admin else 0
    contact.delete()
    _bind_event(type=BindEvent.Type.CANCEL, parent=contact.parent, student=student)
    audit_log_record(
        action=AuditLog.Action.STAFF_CONTACT_REMOVED,
        student=student,
        actor_user=user,
        reason=reason,
        data={"openid": openid, "role": contact.role, "relation": contact.relation, "share_links_revoked": revoked},
    )


@transaction.atomic
def staff_admin_transfer(*, user, student: Student, new_admin_openid: str, reason: str) -> Contact:
    """Make another contact the student's admin (the old admin, if any, becomes ordinary).

    Never zero or two admins: demote, then promote, under the student lock; the old admin's share
    links are revoked. Raises ``NotFound`` (field ``new_admin_openid``) for a non-contact.
    """
    student = _check(user=user, student=student, reason=reason)
    new = Contact.objects.select_related("parent").filter(student=student, parent__openid=new_admin_openid).first()
    if new is None:
        raise NotFound(_("The new admin must already be a contact of this student."), field="new_admin_openid")
    old = (
        Contact.objects.select_related("parent")
        .filter(student=student, role=Contact.Role.ADMIN)
        .exclude(pk=new.pk)
        .first()
    )
    revoked = 0
    if old is not None:
        Contact.objects.filter(pk=old.pk).update(role=Contact.Role.ORDINARY)
        revoked = _revoke_links(student=student, issuer_id=old.parent_id)
    Contact.objects.filter(pk=new.pk).update(role=Contact.Role.ADMIN)
    audit_log_record(
        action=AuditLog.Action.STAFF_ADMIN_TRANSFERRED,
        student=student,
        actor_user=user,
        reason=reason,
        data={"from": old.parent.openid if old else "", "to": new_admin_openid, "share_links_revoked": revoked},
    )
    new.role = Contact.Role.ADMIN
    return new


@transaction.atomic
def staff_share_links_revoke(*, user, student: Student, reason: str) -> int:
    """Revoke every active share link of ``student``; returns how many."""
    student = _check(user=user, student=student, reason=reason)
    revoked = _revoke_links(student=student)
    audit_log_record(
        action=AuditLog.Action.STAFF_SHARE_LINKS_REVOKED,
        student=student,
        actor_user=user,
        reason=reason,
        data={"revoked": revoked},
    )
    return revoked


@transaction.atomic
def staff_student_deactivate(*, user, student: Student, reason: str) -> None:
    """Deactivate a student (left school, graduated): no binding, no calls; its share links are revoked.

    Contacts are kept, so reactivating restores them.
    """
    student = _check(user=user, student=student, reason=reason)
    if not student.is_active:
        return
    student.is_active = False
    student.save(update_fields=["is_active", "updated_at"])
    revoked = _revoke_links(student=student)
    audit_log_record(
        action=AuditLog.Action.STAFF_STUDENT_DEACTIVATED,
        student=student,
        actor_user=user,
        reason=reason,
        data={"share_links_revoked": revoked},
    )
