"""Binding a parent to a student, with WeChat holding the binding (seed 003 §2.1, §2.5; REFERENCE.md §1a, §3).

The mini-program asks the portal first — admin binding (``admin_bind``) or a share link
(``share_link_bind``) — and the portal, the school's policy gate, answers *allowed* or the
bindContact type that refuses (``auth``, ``binded``, ``overload``, ``expire``, ``invalid``; a
missing or wrong claim code). Allowed reserves the contact (``pending``, counted in the school's
contact limit); the mini-program then calls the plugin (``bindVoipAdminContact``, or the plugin's
bind page from the share link's ``plugin_path``), and reports the plugin's ``bindContact`` event
(``bind_event_report``). The report is checked against WeChat's list before the contact is served
(``contacts.services.reconciliation``). Every decision is taken under the student row lock and
every refusal is recorded as a ``BindEvent``.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.locks import student_lock
from contacts.models import BindEvent, Contact, Parent, ShareLink
from contacts.selectors.share_links import share_link_get
from contacts.services.bind_events import BindDecision, bind_event_record, bind_refusal
from contacts.services.claim_codes import claim_code_check, claim_code_use
from contacts.services.parents import parent_voip_scope_lost
from contacts.services.reconciliation import bindings_reconcile_soon
from core.errors import Conflict, NotFound
from core.prepared import prepared
from schools.models import AuditLog, Student
from schools.selectors import student_get_active
from schools.services.audit import audit_log_record

# What a plugin's bindContact event says of the binding the portal reserved (seed 003 §2.5).
BOUND_TYPES = {BindEvent.Type.SUCCESS, BindEvent.Type.BINDED}
FAILED_TYPES = {BindEvent.Type.OVERLOAD, BindEvent.Type.EXPIRE, BindEvent.Type.INVALID, BindEvent.Type.AUTH}


# The reads every bind makes under the student lock, compiled once per connection (``core.prepared``;
# bench/bind.py): the rules stay in the QuerySet methods they call.
@prepared
def _link_state(*, link_id: int) -> QuerySet:
    return ShareLink.objects.filter(pk=link_id).order_by().values_list("state", "expires_at")


@prepared
def _served_admin(*, student_id: int, parent_id: int) -> QuerySet:
    admins = Contact.objects.served().filter(student_id=student_id, parent_id=parent_id, role=Contact.Role.ADMIN)
    return admins.order_by().values_list("pk", flat=True)[:1]


@prepared
def _contact_of(*, student_id: int, parent_id: int) -> QuerySet:
    return Contact.objects.filter(student_id=student_id, parent_id=parent_id).order_by()[:1]  # a unique pair


@prepared
def _counted_in_limit(*, student_id: int) -> QuerySet:
    # Their ids (at most the school's contact_limit, ≤ 100, from the index): len() is the count.
    return Contact.objects.in_contact_limit().filter(student_id=student_id).order_by().values_list("pk", flat=True)


def _create_contact(**fields) -> Contact:
    try:
        with transaction.atomic():
            return Contact.objects.create(**fields)
    except IntegrityError as exc:  # only reachable if a lock was bypassed; never a 500
        raise Conflict(_("The contacts of this student changed at the same time; try again.")) from exc


def _reserve(
    *, student: Student, parent: Parent, relation: str, share_link: ShareLink | None = None, claim_code=None
) -> BindDecision:
    """Allow ``parent`` to bind to the locked ``student``: the admin without a share link, an
    ordinary contact with one.

    The refusals come first, in seed 003 §2.5's order: ``auth`` (no scope.voip), ``binded``
    (already a contact), another admin (``Conflict``, code ``admin_exists``; admin binding only),
    ``overload`` (the school's ``contact_limit`` reached, the admin and reservations included).
    Else the contact is reserved (``pending``; ``confirmed`` at once in the sandbox, where no WeChat
    binds), audited (``claim_code`` marked used), and the answer is *allowed*. A parent asking again
    before the plugin finished gets its reservation again.
    """
    as_admin = share_link is None
    if not parent.voip_scope_granted:
        return bind_refusal(BindEvent.Type.AUTH, parent=parent, student=student, share_link=share_link)
    found = _contact_of(student_id=student.pk, parent_id=parent.pk)
    existing = found[0] if found else None
    if existing is not None and existing.state == Contact.State.PENDING:
        Contact.objects.filter(pk=existing.pk).update(state_changed_at=timezone.now())
        return BindDecision(allowed=True, user_id=student.user_id, contact=existing)
    if existing is not None:
        return bind_refusal(
            BindEvent.Type.BINDED, parent=parent, student=student, share_link=share_link, contact=existing
        )
    if as_admin and Contact.objects.filter(student=student, role=Contact.Role.ADMIN).exists():
        raise Conflict(_("Another parent is already the admin contact of this student."), code="admin_exists")
    if len(_counted_in_limit(student_id=student.pk)) >= student.school.contact_limit:
        return bind_refusal(BindEvent.Type.OVERLOAD, parent=parent, student=student, share_link=share_link)
    contact = _create_contact(
        student=student,
        parent=parent,
        role=Contact.Role.ADMIN if as_admin else Contact.Role.ORDINARY,
        relation=relation,
        bound_via=Contact.BoundVia.ADMIN_BINDING if as_admin else Contact.BoundVia.SHARE_LINK,
        share_link=share_link,
        state=Contact.State.CONFIRMED if settings.WECHAT_SANDBOX else Contact.State.PENDING,
    )
    data = {"relation": relation, "state": contact.state}
    if as_admin and claim_code is not None:
        claim_code_use(code=claim_code, parent=parent)
        data["claim_code"] = claim_code.pk
    if not as_admin:
        data.update(share_link=share_link.pk, issued_by=share_link.issued_by.openid)
    action = AuditLog.Action.ADMIN_BOUND if as_admin else AuditLog.Action.CONTACT_BOUND
    audit_log_record(action=action, student=student, actor_openid=parent.openid, data=data)
    return BindDecision(allowed=True, user_id=student.user_id, contact=contact)


def admin_bind(*, parent: Parent, user_id: str, relation: str = "", claim_code: str = "") -> BindDecision:
    """Before bindVoipAdminContact (seed 003 §2.1): may the caller become the student's first contact and admin?

    Returns the decision (``_reserve``): allowed, or refused with ``auth``, ``binded``,
    ``overload``. Raises ``NotFound`` (field ``user_id``) for an unknown or inactive student and
    ``Conflict`` when another parent is already admin.

    When the school sets ``require_claim_code``, ``claim_code`` (as printed, e.g. ``ABCDE-FGHJK``;
    any case, dash and spaces optional) is checked first, under the student lock: missing →
    ``ApplicationError`` (field ``claim_code``, code ``claim_code_required``); wrong, expired, used
    or revoked → ``ApplicationError`` (field ``claim_code``, code ``invalid_claim_code``, one message
    for all four), counted per student; after ``CLAIM_CODE_MAX_ATTEMPTS`` wrong codes within
    ``CLAIM_CODE_WINDOW`` → ``TooManyRequests`` until that window ends. When allowed, the code is
    marked used in the same transaction; refusals leave it unused. Ignored otherwise.
    """
    student = student_get_active(user_id=user_id)
    if student is None:
        raise NotFound(_("No active student with this user_id."), field="user_id")
    with transaction.atomic():
        student = student_lock(student_id=student.pk)
        code = claim_code_check(student=student, claim_code=claim_code) if student.school.require_claim_code else None
        return _reserve(student=student, parent=parent, relation=relation, claim_code=code)


def share_link_bind(*, parent: Parent, token: str, relation: str = "") -> BindDecision:
    """Before the plugin's bind page (seed 003 §2.1, §2.5): may the caller bind through this share link?

    Refusals, decided under the student lock: ``invalid`` (unknown or revoked token, inactive
    student, or the issuer is not the student's admin as WeChat confirmed it: an admin still
    ``pending`` may yet be released, which would leave whom its link bound without an admin; as
    at WeChat, whose share page binds through its own admin only), ``expire`` (past ``expires_at``,
    whether or not the sweep has run), then ``_reserve``'s ``auth``, ``binded``, ``overload``.
    Allowed answers carry the link's ``plugin_path`` (``ShareLinkDetail``) for the bind page to open.
    """
    link = share_link_get(token=token)
    with transaction.atomic():
        if link is None:
            return bind_refusal(BindEvent.Type.INVALID, parent=parent, student=None)
        student = student_lock(student_id=link.student_id)
        [(link.state, link.expires_at)] = _link_state(link_id=link.pk)  # as it is now, under the lock
        issuer_is_admin = bool(_served_admin(student_id=student.pk, parent_id=link.issued_by_id))
        if link.state == ShareLink.State.REVOKED or not student.is_active_in_active_school or not issuer_is_admin:
            return bind_refusal(BindEvent.Type.INVALID, parent=parent, student=student, share_link=link)
        if link.state == ShareLink.State.EXPIRED or timezone.now() >= link.expires_at:
            return bind_refusal(BindEvent.Type.EXPIRE, parent=parent, student=student, share_link=link)
        return _reserve(student=student, parent=parent, relation=relation, share_link=link)


def bind_event_report(*, parent: Parent, type: str, err_msg: str, user_id: str) -> Contact | None:
    """The plugin's ``bindContact`` event ``{type, errMsg, userId}`` as the mini-program reports it (seed 003 §2.5).

    Recorded as a ``BindEvent`` (source ``plugin``), then acted on, never trusted blindly:
    ``success`` / ``binded`` have the student's contacts checked against WeChat's list soon (which
    confirms the reservation, or records a binding made elsewhere); ``unbind`` / ``cancel`` too;
    ``overload``, ``expire``, ``invalid``, ``auth`` release the caller's reservation (WeChat did not
    bind), and ``auth`` marks its scope.voip lost. Idempotent: the same report again changes
    nothing more. Returns the caller's contact of the student as it now stands (or None). Raises
    ``NotFound`` (field ``userId``) for an unknown or inactive student. In the sandbox (no WeChat) a
    ``success`` confirms the reservation at once.
    """
    student = student_get_active(user_id=user_id)
    if student is None:
        raise NotFound(_("No active student with this user_id."), field="userId")
    with transaction.atomic():
        student = student_lock(student_id=student.pk)
        bind_event_record(type=type, parent=parent, student=student, source=BindEvent.Source.PLUGIN, err_msg=err_msg)
        contact = Contact.objects.filter(student=student, parent=parent).first()
        pending = contact is not None and contact.state == Contact.State.PENDING
        if type in FAILED_TYPES and pending:
            audit_log_record(
                action=AuditLog.Action.BINDING_RELEASED,
                student=student,
                actor_openid=parent.openid,
                data={"type": type},
            )
            contact.delete()
            contact = None
        if type == BindEvent.Type.AUTH:
            parent_voip_scope_lost(parent=parent, now=timezone.now())
        if type in BOUND_TYPES and pending and settings.WECHAT_SANDBOX:
            Contact.objects.filter(pk=contact.pk).update(state=Contact.State.CONFIRMED, state_changed_at=timezone.now())
            contact.state = Contact.State.CONFIRMED
        if type not in FAILED_TYPES:
            bindings_reconcile_soon(student_ids=[student.pk])
        return contact
