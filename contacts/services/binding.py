"""Binding a parent to a student (seed 003 §2.1, §2.5; REFERENCE.md §3).

The first contact binds as admin (bindVoipAdminContact); others bind through the admin's share
link. Every outcome is decided under the student row lock (so the contact limit and the single
admin hold under concurrency) and recorded as a ``BindEvent``.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.locks import student_lock
from contacts.models import BindEvent, Contact, Parent, ShareLink
from contacts.selectors.share_links import share_link_get
from contacts.services.bind_events import BindOutcome, bind_outcome
from contacts.services.claim_codes import claim_code_check, claim_code_use
from core.errors import Conflict, NotFound
from schools.models import AuditLog, Student
from schools.selectors import student_get_active
from schools.services import audit_log_record


def _create_contact(**fields) -> Contact:
    try:
        with transaction.atomic():
            return Contact.objects.create(**fields)
    except IntegrityError as exc:  # only reachable if a lock was bypassed; never a 500
        raise Conflict(_("The contacts of this student changed at the same time; try again.")) from exc


def _bind(
    *, student: Student, parent: Parent, relation: str, share_link: ShareLink | None = None, claim_code=None
) -> BindOutcome:
    """Bind ``parent`` to the locked ``student``: the admin without a share link, an ordinary contact with one.

    The outcomes that stop it come first, in seed 003 §2.5's order: ``auth`` (no scope.voip),
    ``binded`` (already a contact), another admin (``Conflict``, code ``admin_exists``; admin
    binding only), ``overload`` (the school's ``contact_limit`` reached, the admin included). Else
    the contact, its audit row (``claim_code`` marked used) and ``success``.
    """
    as_admin = share_link is None
    if not parent.voip_scope_granted:
        return bind_outcome(BindEvent.Type.AUTH, parent=parent, student=student, share_link=share_link)
    existing = Contact.objects.filter(student=student, parent=parent).first()
    if existing is not None:
        return bind_outcome(
            BindEvent.Type.BINDED, parent=parent, student=student, share_link=share_link, contact=existing
        )
    if as_admin and Contact.objects.filter(student=student, role=Contact.Role.ADMIN).exists():
        raise Conflict(_("Another parent is already the admin contact of this student."), code="admin_exists")
    if Contact.objects.filter(student=student).count() >= student.school.contact_limit:
        return bind_outcome(BindEvent.Type.OVERLOAD, parent=parent, student=student, share_link=share_link)
    contact = _create_contact(
        student=student,
        parent=parent,
        role=Contact.Role.ADMIN if as_admin else Contact.Role.ORDINARY,
        relation=relation,
        bound_via=Contact.BoundVia.ADMIN_BINDING if as_admin else Contact.BoundVia.SHARE_LINK,
        share_link=share_link,
    )
    data = {"relation": relation}
    if as_admin and claim_code is not None:
        claim_code_use(code=claim_code, parent=parent)
        data["claim_code"] = claim_code.pk
    if not as_admin:
        data.update(share_link=share_link.pk, issued_by=share_link.issued_by.openid)
    action = AuditLog.Action.ADMIN_BOUND if as_admin else AuditLog.Action.CONTACT_BOUND
    audit_log_record(action=action, student=student, actor_openid=parent.openid, data=data)
    return bind_outcome(BindEvent.Type.SUCCESS, parent=parent, student=student, share_link=share_link, contact=contact)


def admin_bind(*, parent: Parent, user_id: str, relation: str = "", claim_code: str = "") -> BindOutcome:
    """bindVoipAdminContact (seed 003 §2.1): the caller becomes the student's first contact and admin.

    Returns the bindContact outcome: ``success``, ``auth`` (scope.voip not granted), ``binded``
    (caller already bound), ``overload`` (limit reached). Raises ``NotFound`` (field ``user_id``)
    for an unknown or inactive student and ``Conflict`` when another parent is already admin.

    When the school sets ``require_claim_code``, ``claim_code`` (as printed, e.g. ``ABCDE-FGHJK``;
    any case, dash and spaces optional) is checked first, under the student lock: missing →
    ``ApplicationError`` (field ``claim_code``, code ``claim_code_required``); wrong, expired, used
    or revoked → ``ApplicationError`` (field ``claim_code``, code ``invalid_claim_code``, one message
    for all four), counted per student; after ``CLAIM_CODE_MAX_ATTEMPTS`` wrong codes within
    ``CLAIM_CODE_WINDOW`` → ``TooManyRequests`` until that window ends. On ``success`` the code is
    marked used in the same transaction; other outcomes leave it unused. Ignored otherwise.
    """
    student = student_get_active(user_id=user_id)
    if student is None:
        raise NotFound(_("No active student with this user_id."), field="user_id")
    with transaction.atomic():
        student = student_lock(student_id=student.pk)
        code = claim_code_check(student=student, claim_code=claim_code) if student.school.require_claim_code else None
        return _bind(student=student, parent=parent, relation=relation, claim_code=code)


def share_link_bind(*, parent: Parent, token: str, relation: str = "") -> BindOutcome:
    """Bind the caller to a student through a share link (seed 003 §2.1, §2.5).

    Outcomes, decided under the student lock: ``invalid`` (unknown or revoked token, inactive
    student, or the issuer is no longer the student's admin), ``expire`` (past ``expires_at``,
    whether or not the sweep has run), ``auth``, ``binded``, ``overload``, ``success``.
    Every outcome is recorded as a ``BindEvent``.
    """
    link = share_link_get(token=token)
    with transaction.atomic():
        if link is None:
            return bind_outcome(BindEvent.Type.INVALID, parent=parent, student=None)
        student = student_lock(student_id=link.student_id)
        link.refresh_from_db(fields=["state", "expires_at"])
        issuer_is_admin = Contact.objects.filter(
            student=student, parent_id=link.issued_by_id, role=Contact.Role.ADMIN
        ).exists()
        if link.state == ShareLink.State.REVOKED or not student.is_active_in_active_school or not issuer_is_admin:
            return bind_outcome(BindEvent.Type.INVALID, parent=parent, student=student, share_link=link)
        if link.state == ShareLink.State.EXPIRED or timezone.now() >= link.expires_at:
            return bind_outcome(BindEvent.Type.EXPIRE, parent=parent, student=student, share_link=link)
        return _bind(student=student, parent=parent, relation=relation, share_link=link)
