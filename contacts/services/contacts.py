"""A student's contacts as its admin contact manages them, and as parents leave (seed 003 §2.2-§2.4, FAQ 1.5).

The plugin deletes (``deleteVoipBindContact``) and transfers (``transerAdmin``) at WeChat; the
admin's mini-program reports what it did here. A report stops serving the deleted contacts at
once and records the transfer as requested; WeChat's list, read soon after
(``contacts.services.reconciliation``), completes both. Staff's counterparts are
``contacts.services.staff``; both use ``contacts_mark_removing`` and ``admin_transfer_request``.
With ``WECHAT_SANDBOX`` (no WeChat) reports take effect at once.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.locks import student_lock
from contacts.models import BindEvent, Contact, Parent
from contacts.selectors.contacts import contact_access
from contacts.services.bind_events import bind_event_record
from contacts.services.reconciliation import bindings_reconcile_soon
from contacts.services.share_links import share_links_revoke
from core.errors import ApplicationError, Conflict, Forbidden, NotFound
from schools.models import AuditLog, Student
from schools.services.audit import audit_log_record

# --- Shared by parents' and staff's services --------------------------------------------------------


def contacts_mark_removing(*, student: Student, contacts: list[Contact]) -> int:
    """Stop serving ``contacts`` of the locked ``student`` at once; the removal completes when WeChat's
    list no longer has them (at once in the sandbox). An admin among them loses its share links.
    Returns how many links were revoked. The caller writes the audit rows. A removal done here
    (sandbox) is recorded as a ``cancel`` bindContact event, as WeChat's unbinding is; as at WeChat,
    which never deletes the admin (seed 003 §2.3), an admin with other contacts stays, ``removing``,
    so that they keep their admin."""
    now = timezone.now()
    revoked = 0
    for contact in contacts:
        if contact.is_admin:
            revoked += sum(share_links_revoke(student_ids=[student.pk], issued_by_id=contact.parent_id).values())
    marked = contacts
    if settings.WECHAT_SANDBOX:
        others = Contact.objects.filter(student=student).exclude(pk__in=[c.pk for c in contacts]).exists()
        marked = [c for c in contacts if c.is_admin and others]  # stays bound, as at WeChat
        removed = [c for c in contacts if c not in marked]
        for contact in removed:
            bind_event_record(type=BindEvent.Type.CANCEL, parent=contact.parent, student=student)
        Contact.objects.filter(pk__in=[c.pk for c in removed]).delete()
    Contact.objects.filter(pk__in=[c.pk for c in marked]).update(state=Contact.State.REMOVING, state_changed_at=now)
    for contact in contacts:
        contact.state = Contact.State.REMOVING
    bindings_reconcile_soon(student_ids=[student.pk])
    return revoked


def admin_role_hand_over(*, student: Student, new: Contact, old: Contact | None) -> int:
    """Make ``new`` the admin of the locked ``student``: demote ``old`` (if any), then promote, so there
    is never zero or two admins (the partial unique index forbids two); ``old``'s share links are
    revoked. Returns how many links were revoked. (WeChat's list decides roles outside the sandbox.)"""
    revoked = 0
    if old is not None:
        Contact.objects.filter(pk=old.pk).update(role=Contact.Role.ORDINARY)
        revoked = sum(share_links_revoke(student_ids=[student.pk], issued_by_id=old.parent_id).values())
    Contact.objects.filter(pk=new.pk).update(role=Contact.Role.ADMIN, admin_requested_at=None)
    new.role = Contact.Role.ADMIN
    return revoked


def admin_transfer_request(*, student: Student, new: Contact) -> int:
    """Ask that ``new`` become the admin of the locked ``student``: done when WeChat's list says so
    (the current admin carries it out with ``transerAdmin``); at once in the sandbox. Returns how
    many share links of the old admin were revoked (sandbox only)."""
    Contact.objects.filter(student=student).exclude(pk=new.pk).update(admin_requested_at=None)
    if settings.WECHAT_SANDBOX:
        old = Contact.objects.filter(student=student, role=Contact.Role.ADMIN).exclude(pk=new.pk).first()
        return admin_role_hand_over(student=student, new=new, old=old)
    if not new.is_admin:
        Contact.objects.filter(pk=new.pk).update(admin_requested_at=timezone.now())
    bindings_reconcile_soon(student_ids=[student.pk])
    return 0


def contacts_by_openid(*, student: Student, openids: list[str], field: str, all_contacts: bool = False) -> dict:
    """``{openid: contact}`` of the student's contacts (with parents) for ``openids`` (or all of them,
    with ``all_contacts``); ``NotFound`` on ``field`` names the openids not bound. One query."""
    contacts = Contact.objects.select_related("parent").filter(student=student)
    if not all_contacts:
        contacts = contacts.filter(parent__openid__in=openids)
    found = {c.parent.openid: c for c in contacts}
    missing = sorted({o for o in openids if o not in found})
    if missing:
        message = _("Not a contact of this student: %(openids)s") % {"openids": ", ".join(missing)}
        raise NotFound(message, field=field)
    return found


def contact_openids(*, student: Student, call_order: bool = False) -> list[str]:
    """The openids bound to ``student`` (a removal pending at WeChat left out), in list order (or call order)."""
    contacts = Contact.objects.filter(student=student).remaining()
    contacts = contacts.in_call_order() if call_order else contacts.in_list_order()
    return list(contacts.values_list("parent__openid", flat=True))


# --- The parents' services --------------------------------------------------------------------------


def _locked_own_contact(*, parent: Parent, user_id: str, admin_only: str = "") -> tuple[Student, Contact]:
    """Lock the student and re-read the caller's contact under the lock (``NotFound`` if gone).

    With ``admin_only`` (the refusal's message), an ordinary contact gets ``Forbidden`` (code ``not_admin``).
    """
    own = contact_access(parent=parent, user_id=user_id)
    student = student_lock(student_id=own.student_id)
    own = Contact.objects.select_related("parent").filter(pk=own.pk).first()
    if own is None:
        raise NotFound(_("No such student among yours."), field="user_id")
    if admin_only and not own.is_admin:
        raise Forbidden(admin_only, code="not_admin")
    return student, own


@transaction.atomic
def contacts_delete(*, parent: Parent, user_id: str, openid_list: list[str]) -> list[str]:
    """deleteVoipBindContact (seed 003 §2.3), as the admin's mini-program reports it.

    The reported contacts are no longer served at once and are removed when WeChat's list no longer
    has them. Idempotent: openids already removed, or whose removal waits for WeChat, are ignored (in
    the sandbox the report removes them: staff's removal of an admin leaves it waiting). Returns the
    openids still bound, in list order. Raises ``NotFound`` (caller not a contact), ``Forbidden`` (caller not admin),
    ``ApplicationError`` (field ``openid_list``: the admin cannot delete itself). One audit row per
    removed contact.
    """
    student, _own = _locked_own_contact(
        parent=parent, user_id=user_id, admin_only=_("Only the admin contact may delete contacts.")
    )
    if parent.openid in openid_list:
        raise ApplicationError(_("The admin cannot delete itself; transfer the admin role first."), field="openid_list")
    contacts = [
        c
        for c in Contact.objects.select_related("parent").filter(student=student, parent__openid__in=openid_list)
        if c.state != Contact.State.REMOVING or settings.WECHAT_SANDBOX  # no WeChat completes it there
    ]
    contacts_mark_removing(student=student, contacts=contacts)
    bindings_reconcile_soon(student_ids=[student.pk])  # a repeated report still has WeChat read
    for contact in contacts:
        audit_log_record(
            action=AuditLog.Action.CONTACT_REMOVAL_REPORTED,
            student=student,
            actor_openid=parent.openid,
            data={"openid": contact.parent.openid, "relation": contact.relation},
        )
    return contact_openids(student=student)


@transaction.atomic
def admin_transfer(*, parent: Parent, user_id: str, new_admin_openid: str) -> Contact:
    """transerAdmin (seed 003 §2.4), as the admin's mini-program reports it.

    The roles change when WeChat's list shows the new admin (at once in the sandbox); the old
    admin's share links are revoked then. Idempotent. Returns the new admin's contact. Raises
    ``NotFound`` (caller not a contact; field ``new_admin_openid`` not a contact), ``Forbidden``
    (caller not admin), ``ApplicationError`` (field ``new_admin_openid`` is the caller).
    """
    student, own = _locked_own_contact(
        parent=parent, user_id=user_id, admin_only=_("Only the admin contact may transfer the admin role.")
    )
    if new_admin_openid == parent.openid:
        raise ApplicationError(_("You are already the admin."), field="new_admin_openid")
    new = Contact.objects.select_related("parent").filter(student=student, parent__openid=new_admin_openid).first()
    if new is None:
        raise NotFound(_("The new admin must already be a contact of this student."), field="new_admin_openid")
    revoked = admin_transfer_request(student=student, new=new)
    audit_log_record(
        action=AuditLog.Action.ADMIN_TRANSFER_REPORTED,
        student=student,
        actor_openid=parent.openid,
        data={"from": parent.openid, "to": new_admin_openid, "share_links_revoked": revoked},
    )
    new.refresh_from_db(fields=["role", "admin_requested_at"])
    return new


@transaction.atomic
def contact_unbind_self(*, parent: Parent, user_id: str) -> None:
    """The caller leaves the student: no longer served at once; the admin contact is asked to delete
    it at WeChat (``pending_actions``), where only the admin may delete (seed 003 §2.3).

    The admin must transfer the role first (``Conflict``, code ``admin_must_transfer``) unless it
    is the student's only contact. Raises ``NotFound`` when the caller is not a contact.
    """
    student, own = _locked_own_contact(parent=parent, user_id=user_id)
    if own.is_admin and Contact.objects.filter(student=student).exclude(pk=own.pk).exists():
        raise Conflict(_("The admin must transfer the admin role before leaving."), code="admin_must_transfer")
    contacts_mark_removing(student=student, contacts=[own])
    audit_log_record(
        action=AuditLog.Action.CONTACT_UNBOUND,
        student=student,
        actor_openid=parent.openid,
        data={"relation": own.relation},
    )


@transaction.atomic
def contacts_set_call_order(*, parent: Parent, user_id: str, openid_list: list[str]) -> list[str]:
    """The admin sets the round-robin order in which a device calls the student's contacts (FAQ 1.5).

    ``openid_list`` names contacts in calling order; contacts left out follow, admin first then by
    binding time. Returns the full order. Raises ``Forbidden`` (not admin), ``NotFound`` (caller not a
    contact; field ``openid_list`` for an openid not bound), ``ApplicationError`` (duplicates).
    """
    student, _own = _locked_own_contact(
        parent=parent, user_id=user_id, admin_only=_("Only the admin contact may set the call order.")
    )
    if len(set(openid_list)) != len(openid_list):
        raise ApplicationError(_("An openid appears twice."), field="openid_list")
    contacts = contacts_by_openid(student=student, openids=openid_list, field="openid_list", all_contacts=True)
    position = {openid: index for index, openid in enumerate(openid_list, start=1)}
    for openid, contact in contacts.items():
        contact.call_order = position.get(openid)
    Contact.objects.bulk_update(contacts.values(), ["call_order"])
    audit_log_record(
        action=AuditLog.Action.CALL_ORDER_SET,
        student=student,
        actor_openid=parent.openid,
        data={"openid_list": openid_list},
    )
    return contact_openids(student=student, call_order=True)
