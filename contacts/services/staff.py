"""What school staff do to a student's contacts, for real-life cases the parents cannot solve themselves.

Each action is one transaction under the student locks, requires a reason, and writes an audit
row (who, when, what, why) that the student's admin page shows. Staff act only within their
school and only as school administrators (``schools.tenancy.staff_check``): a student of another
school is ``NotFound``, a read-only viewer ``Forbidden`` (binding rules: seed 003 §2).

WeChat holds the binding and only the admin contact's plugin may delete or transfer there (seed
003 §2.3, §2.4): a removal by staff stops serving the contact at once and is listed to the admin
contact (``pending_actions``) until WeChat's list no longer has it; a transfer by staff is likewise
a request the admin carries out.
"""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from contacts.locks import student_lock, students_lock
from contacts.models import Contact
from contacts.services.contacts import admin_transfer_request, contacts_mark_removing
from contacts.services.share_links import share_links_revoke
from contacts.services.students import students_deactivate
from core.errors import ApplicationError, NotFound
from schools.models import AuditLog, Student
from schools.services.audit import audit_log_build, audit_log_record, audit_logs_record
from schools.tenancy import staff_check, staff_scoped


def _staff_student_ids(*, user, students, reason: str) -> list[int]:
    """The ids of ``students`` (rows or a queryset) once ``user`` may change them all and gave a reason.

    ``NotFound`` (field ``student``) for a student outside the user's school, ``Forbidden`` (code
    ``read_only``) for a viewer (``staff_check``), ``ApplicationError`` (field ``reason``) without
    a reason.
    """
    ids = sorted({student.pk for student in students})
    if staff_scoped(Student.objects.filter(pk__in=ids), user).count() != len(ids):
        raise NotFound(_("No such student in your school."), field="student")
    staff_check(user, school_ids=Student.objects.filter(pk__in=ids).values_list("school_id", flat=True))
    if not reason or not reason.strip():
        raise ApplicationError(_("Give a reason; it is kept in the audit record."), field="reason")
    return ids


def _staff_student_lock(*, user, student: Student, reason: str) -> Student:
    [student_id] = _staff_student_ids(user=user, students=[student], reason=reason)
    return student_lock(student_id=student_id)


@transaction.atomic
def staff_contact_remove(*, user, student: Student, openid: str, reason: str) -> None:
    """Remove one contact of ``student``: no longer served from now, deleted at WeChat by the admin
    contact (pending until WeChat's list drops it); removing the admin also revokes its share links.

    Records an audit row. Raises ``NotFound`` (field ``openid``) when the openid is not a contact,
    ``ApplicationError`` (field ``reason``) without a reason.
    """
    student = _staff_student_lock(user=user, student=student, reason=reason)
    contact = Contact.objects.select_related("parent").filter(student=student, parent__openid=openid).first()
    if contact is None:
        raise NotFound(_("Not a contact of this student."), field="openid")
    revoked = contacts_mark_removing(student=student, contacts=[contact])
    audit_log_record(
        action=AuditLog.Action.STAFF_CONTACT_REMOVED,
        student=student,
        actor_user=user,
        reason=reason,
        data={"openid": openid, "role": contact.role, "relation": contact.relation, "share_links_revoked": revoked},
    )


@transaction.atomic
def staff_admin_transfer(*, user, student: Student, new_admin_openid: str, reason: str) -> Contact:
    """Ask that another contact become the student's admin: the admin contact carries it out with
    ``transerAdmin`` and the roles change when WeChat's list says so (``admin_transfer_request``).

    Raises ``NotFound`` (field ``new_admin_openid``) for a non-contact.
    """
    student = _staff_student_lock(user=user, student=student, reason=reason)
    new = Contact.objects.select_related("parent").filter(student=student, parent__openid=new_admin_openid).first()
    if new is None:
        raise NotFound(_("The new admin must already be a contact of this student."), field="new_admin_openid")
    old = Contact.objects.select_related("parent").filter(student=student, role=Contact.Role.ADMIN).exclude(pk=new.pk)
    old = old.first()
    revoked = admin_transfer_request(student=student, new=new)
    audit_log_record(
        action=AuditLog.Action.STAFF_ADMIN_TRANSFERRED,
        student=student,
        actor_user=user,
        reason=reason,
        data={"from": old.parent.openid if old else "", "to": new_admin_openid, "share_links_revoked": revoked},
    )
    return new


@transaction.atomic
def staff_share_links_revoke(*, user, students, reason: str) -> int:
    """Revoke every active share link of ``students`` (rows or a queryset, e.g. a class); returns how many.

    One audit row per student.
    """
    ids = _staff_student_ids(user=user, students=students, reason=reason)
    locked = students_lock(student_ids=ids)
    revoked = share_links_revoke(student_ids=ids)
    audit_logs_record(
        [
            audit_log_build(
                action=AuditLog.Action.STAFF_SHARE_LINKS_REVOKED,
                student=student,
                actor_user=user,
                reason=reason,
                data={"revoked": revoked.get(student.pk, 0)},
            )
            for student in locked
        ]
    )
    return sum(revoked.values())


def staff_students_deactivate(*, user, students, reason: str) -> int:
    """Deactivate ``students`` (rows or a queryset, e.g. a class): ``students_deactivate`` once ``user``
    may; returns how many were active."""
    ids = _staff_student_ids(user=user, students=students, reason=reason)
    return students_deactivate(student_ids=ids, actor_user=user, reason=reason)
