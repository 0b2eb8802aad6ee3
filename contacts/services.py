"""Writes of the contacts app: login, scope.voip, claim codes, binding, share links, deletion, transfer.

Each service is one transaction and writes its audit row (``schools.AuditLog``) and, for the
binding flow, its ``BindEvent`` inside it. Binding rules follow seed 003 §2 and REFERENCE.md §3;
the contact limit and the single admin are kept under the student row lock (``contacts.locks``)
and, for the admin and uniqueness, by PostgreSQL constraints.
"""

import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.errors import (
    ApplicationError,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    UpstreamError,
    UpstreamUnavailable,
)
from schools.models import AuditLog, Student
from schools.selectors import student_get_active
from schools.services import audit_log_record
from schools.tokens import token_hash, token_new
from schools.validators import wechat_id_validator

from . import wechat
from .locks import student_lock, students_lock
from .models import BindEvent, ClaimCode, Contact, Parent, ParentToken, ShareLink
from .selectors import contact_access

SANDBOX_CODE_PREFIX = "sandbox:"

# errMsg of each bindContact type (seed 003 §2.5), in the plugin's "api:ok" / "api:fail …" style.
BIND_ERRMSG = {
    BindEvent.Type.SUCCESS: "bindContact:ok",
    BindEvent.Type.BINDED: "bindContact:fail the contact is already bound to this student",
    BindEvent.Type.EXPIRE: "bindContact:fail the share link has expired",
    BindEvent.Type.OVERLOAD: "bindContact:fail the student's contacts have reached the limit",
    BindEvent.Type.INVALID: "bindContact:fail the share link is not valid",
    BindEvent.Type.AUTH: "bindContact:fail scope.voip has not been granted",
    BindEvent.Type.CANCEL: "bindContact:ok the contact has been unbound",
}


@dataclass(frozen=True)
class BindOutcome:
    """A bindContact event ``{type, errMsg, userId}`` and the contact it concerns, if any."""

    type: str
    errMsg: str  # noqa: N815 — WeChat's field name
    user_id: str
    contact: Contact | None = None


@dataclass(frozen=True)
class LoginResult:
    parent: Parent
    token: str
    expires_at: datetime


def _bind_event(
    *,
    type: str,
    parent: Parent | None = None,
    openid: str = "",
    student: Student | None = None,
    share_link: ShareLink | None = None,
) -> BindEvent:
    return BindEvent.objects.create(
        type=type,
        errMsg=BIND_ERRMSG[type],
        user_id=student.user_id if student else "",
        openid=parent.openid if parent else openid,
        student=student,
        share_link=share_link,
    )


def _outcome(type: str, *, parent: Parent, student: Student | None, share_link=None, contact=None) -> BindOutcome:
    event = _bind_event(type=type, parent=parent, student=student, share_link=share_link)
    return BindOutcome(type=event.type, errMsg=event.errMsg, user_id=event.user_id, contact=contact)


# --- Login and scope.voip ---------------------------------------------------------------------------


def _openid_from_code(code: str) -> wechat.Session:
    if settings.WECHAT_SANDBOX and settings.DEBUG and code.startswith(SANDBOX_CODE_PREFIX):
        openid = code[len(SANDBOX_CODE_PREFIX) :]
        try:
            wechat_id_validator(openid)
        except DjangoValidationError as exc:
            raise ApplicationError(exc.messages[0], field="code") from exc
        return wechat.Session(openid=openid)
    try:
        return wechat.WeChatClient.from_settings().jscode2session(code)
    except wechat.WeChatUnavailable as exc:
        raise UpstreamUnavailable() from exc
    except wechat.WeChatError as exc:
        if exc.errcode == wechat.ERRCODE_INVALID_CODE:
            raise ApplicationError(
                _("The wx.login code is invalid or has expired."), field="code", code="invalid_code"
            ) from exc
        if exc.errcode == wechat.ERRCODE_CODE_USED:
            raise ApplicationError(
                _("The wx.login code has already been used."), field="code", code="code_used"
            ) from exc
        if exc.errcode == wechat.ERRCODE_RATE_LIMITED:
            raise TooManyRequests(_("Too many logins for now; try again in a minute.")) from exc
        raise UpstreamError(_("WeChat refused the login (errcode %(errcode)s).") % {"errcode": exc.errcode}) from exc


def parent_login(*, code: str) -> LoginResult:
    """Log a parent in with a ``wx.login`` code: jscode2session (REFERENCE.md §5), then a bearer token.

    Returns the parent, the raw token (shown once; stored as SHA-256) and its expiry
    (``PARENT_TOKEN_TTL``, default 7 days). Raises ``ApplicationError`` (field ``code``: 40029
    invalid, 40163 used), ``TooManyRequests`` (45011), ``UpstreamUnavailable`` (-1, network),
    ``UpstreamError`` (any other errcode). ``sandbox:<openid>`` codes are accepted only when
    ``WECHAT_SANDBOX`` and ``DEBUG`` are both on.
    """
    session = _openid_from_code(code)  # outside the transaction: no lock held during HTTP
    now = timezone.now()
    with transaction.atomic():
        parent, _created = Parent.objects.get_or_create(openid=session.openid)
        parent.last_login_at = now
        fields = ["last_login_at"]
        if session.unionid and parent.unionid != session.unionid:
            parent.unionid = session.unionid
            fields.append("unionid")
        parent.save(update_fields=fields)
        raw = token_new()
        expires_at = now + settings.PARENT_TOKEN_TTL
        ParentToken.objects.create(parent=parent, token_hash=token_hash(raw), created_at=now, expires_at=expires_at)
    return LoginResult(parent=parent, token=raw, expires_at=expires_at)


def parent_token_revoke(*, token: ParentToken) -> None:
    """Revoke a bearer token (logout); later requests with it answer 401."""
    ParentToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def parent_set_voip_scope(*, parent: Parent, granted: bool) -> Parent:
    """Record the result of ``wx.authorize({scope: 'scope.voip'})`` (REFERENCE.md §2)."""
    parent.voip_scope_granted = granted
    parent.voip_scope_updated_at = timezone.now()
    parent.save(update_fields=["voip_scope_granted", "voip_scope_updated_at"])
    audit_log_record(action=AuditLog.Action.VOIP_SCOPE_CHANGED, actor_openid=parent.openid, data={"granted": granted})
    return parent


# --- Claim codes -----------------------------------------------------------------------------------

CLAIM_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols: no 0/O, 1/I/L to misread on paper
CLAIM_CODE_LENGTH = 10  # 31**10 ≈ 2**49.5 codes
_CLAIM_CODE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")  # spaces and every kind of dash


def claim_code_new() -> str:
    """A random claim code as printed: 10 symbols of ``CLAIM_CODE_ALPHABET`` (≈ 49.5 bits), dash in the middle."""
    raw = "".join(secrets.choice(CLAIM_CODE_ALPHABET) for _ in range(CLAIM_CODE_LENGTH))
    half = CLAIM_CODE_LENGTH // 2
    return f"{raw[:half]}-{raw[half:]}"


def claim_code_normalize(code: str) -> str:
    """A typed claim code as compared: full-width forms folded (NFKC), upper case, no spaces or dashes."""
    return _CLAIM_CODE_SEPARATORS.sub("", unicodedata.normalize("NFKC", code)).upper()


def _claim_code_digest(*, student: Student, code: str) -> str:
    """The stored SHA-256 digest (``token_hash``) of a normalized code, salted with the student's pk."""
    return token_hash(f"{student.pk}:{claim_code_normalize(code)}")


def _claim_code_failures_key(student: Student) -> str:
    return f"claim_code:failures:{student.pk}"


def _claim_code_count_failure(student: Student) -> int:
    """Count a wrong code for ``student`` (atomic ``cache.add`` + ``cache.incr``); the window starts at the first."""
    key, window = _claim_code_failures_key(student), int(settings.CLAIM_CODE_WINDOW.total_seconds())
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between add and incr: this one opens the next
        cache.add(key, 1, timeout=window)
        return 1


def _claim_code_check(*, student: Student, claim_code: str) -> ClaimCode:
    """The student's live, unexpired claim code if ``claim_code`` is it; call under the student lock.

    Raises ``ApplicationError`` (field ``claim_code``) when missing (not counted) or wrong, expired,
    used or revoked (counted, same message), ``TooManyRequests`` while the student is locked out.
    """
    if not claim_code_normalize(claim_code):
        raise ApplicationError(
            _("Enter the claim code printed on the student's letter."), field="claim_code", code="claim_code_required"
        )
    if (cache.get(_claim_code_failures_key(student)) or 0) >= settings.CLAIM_CODE_MAX_ATTEMPTS:
        raise TooManyRequests(
            _("Too many wrong claim codes for this student; try again later."),
            field="claim_code",
            code="claim_code_locked",
        )
    live = ClaimCode.objects.filter(student=student, used_at__isnull=True, revoked_at__isnull=True).first()
    digest = _claim_code_digest(student=student, code=claim_code)
    if live is None or live.expires_at <= timezone.now() or not hmac.compare_digest(live.code_hash, digest):
        _claim_code_count_failure(student)
        raise ApplicationError(_("The claim code is not valid."), field="claim_code", code="invalid_claim_code")
    return live


def _claim_code_use(*, code: ClaimCode, parent: Parent) -> None:
    """Mark ``code`` used by ``parent``; only one use can ever succeed (conditional UPDATE)."""
    used = ClaimCode.objects.filter(pk=code.pk, used_at__isnull=True, revoked_at__isnull=True).update(
        used_at=timezone.now(), used_by=parent
    )
    if used != 1:  # only reachable if the student lock was bypassed
        raise Conflict(_("The claim code was used at the same time; try again."), field="claim_code")


@transaction.atomic
def claim_codes_issue(*, students, issued_by) -> list[tuple[Student, str]]:
    """Issue a new claim code to each of ``students`` (e.g. a class whose letters staff print).

    ``students``: Student rows or a queryset; duplicates are dropped. ``issued_by``: the staff
    user. Returns ``[(student, code)]`` in the order given, ``code`` as printed (``ABCDE-FGHJK``);
    the codes exist only in this return value (stored as SHA-256 digests). Each expires after its
    school's ``claim_code_ttl_days`` days. One transaction under the students' row locks (pk order):
    each student's live code is revoked first, and one ``claim_code_issued`` audit row is written
    per student.
    """
    wanted = list(dict.fromkeys(student.pk for student in students))
    locked = {student.pk: student for student in students_lock(student_ids=wanted)}
    now = timezone.now()
    live = ClaimCode.objects.filter(student_id__in=list(locked), used_at__isnull=True, revoked_at__isnull=True)
    revoked = set(live.values_list("student_id", flat=True))
    live.update(revoked_at=now)
    issued = []
    for student in (locked[pk] for pk in wanted if pk in locked):
        raw = claim_code_new()
        code = ClaimCode.objects.create(
            student=student,
            code_hash=_claim_code_digest(student=student, code=raw),
            issued_by=issued_by,
            created_at=now,
            expires_at=now + timedelta(days=student.school.claim_code_ttl_days),
        )
        audit_log_record(
            action=AuditLog.Action.CLAIM_CODE_ISSUED,
            student=student,
            actor_user=issued_by,
            data={
                "claim_code": code.pk,
                "expires_at": code.expires_at.isoformat(),
                "revoked_previous": student.pk in revoked,
            },
        )
        issued.append((student, raw))
    return issued


# --- Binding ---------------------------------------------------------------------------------------


def _limit_reached(student: Student) -> bool:
    return Contact.objects.filter(student=student).count() >= student.school.contact_limit


def _create_contact(**fields) -> Contact:
    try:
        with transaction.atomic():
            return Contact.objects.create(**fields)
    except IntegrityError as exc:  # only reachable if a lock was bypassed; never a 500
        raise Conflict(_("The contacts of this student changed at the same time; try again.")) from exc


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
        code = _claim_code_check(student=student, claim_code=claim_code) if student.school.require_claim_code else None
        if not parent.voip_scope_granted:
            return _outcome(BindEvent.Type.AUTH, parent=parent, student=student)
        existing = Contact.objects.filter(student=student, parent=parent).first()
        if existing is not None:
            return _outcome(BindEvent.Type.BINDED, parent=parent, student=student, contact=existing)
        if Contact.objects.filter(student=student, role=Contact.Role.ADMIN).exists():
            raise Conflict(_("Another parent is already the admin contact of this student."), code="admin_exists")
        if _limit_reached(student):
            return _outcome(BindEvent.Type.OVERLOAD, parent=parent, student=student)
        contact = _create_contact(
            student=student,
            parent=parent,
            role=Contact.Role.ADMIN,
            relation=relation,
            bound_via=Contact.BoundVia.ADMIN_BINDING,
        )
        data = {"relation": relation}
        if code is not None:
            _claim_code_use(code=code, parent=parent)
            data["claim_code"] = code.pk
        audit_log_record(action=AuditLog.Action.ADMIN_BOUND, student=student, actor_openid=parent.openid, data=data)
        return _outcome(BindEvent.Type.SUCCESS, parent=parent, student=student, contact=contact)


def admin_bind_path(user_id: str) -> str:
    """The mini-program admin-binding page of a student (printed as a QR code on its claim-code letter)."""
    return f"{settings.ADMIN_BIND_PAGE_PATH}?{urlencode({'user_id': user_id})}"


def share_link_path(token: str) -> str:
    """The mini-program page path that carries a share token (used in ``onShareAppMessage``)."""
    return f"{settings.SHARE_LINK_PAGE_PATH}?token={token}"


@transaction.atomic
def share_link_create(
    *, parent: Parent, user_id: str, user_name: str = "", user_avatar: str = ""
) -> tuple[ShareLink, str]:
    """getBindContactPath (seed 003 §2.1): an admin-only link for other parents to bind.

    Returns ``(link, token)``; the token (256 random bits) is shown once and stored as SHA-256.
    The link expires after the school's ``share_link_ttl`` hours. Raises ``NotFound`` when the
    caller is not a contact of the student, ``Forbidden`` when it is not the admin.
    """
    own = contact_access(parent=parent, user_id=user_id)
    if not own.is_admin:
        raise Forbidden(_("Only the admin contact may share a binding link."), code="not_admin")
    student = own.student
    now = timezone.now()
    raw = token_new()
    link = ShareLink.objects.create(
        token_hash=token_hash(raw),
        student=student,
        issued_by=parent,
        user_name=user_name or student.name,
        user_avatar=user_avatar or student.avatar_url,
        created_at=now,
        expires_at=now + timedelta(hours=student.school.share_link_ttl),
    )
    audit_log_record(
        action=AuditLog.Action.SHARE_LINK_CREATED,
        student=student,
        actor_openid=parent.openid,
        data={"share_link": link.pk},
    )
    return link, raw


def share_link_get(*, token: str) -> ShareLink | None:
    """The share link behind a raw token, with student and school, or None."""
    return ShareLink.objects.select_related("student__school", "issued_by").filter(token_hash=token_hash(token)).first()


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
            return _outcome(BindEvent.Type.INVALID, parent=parent, student=None)
        student = student_lock(student_id=link.student_id)
        link.refresh_from_db(fields=["state", "expires_at"])
        issuer_is_admin = Contact.objects.filter(
            student=student, parent_id=link.issued_by_id, role=Contact.Role.ADMIN
        ).exists()
        if (
            link.state == ShareLink.State.REVOKED
            or not student.is_active
            or not student.school.is_active
            or not issuer_is_admin
        ):
            return _outcome(BindEvent.Type.INVALID, parent=parent, student=student, share_link=link)
        if link.state == ShareLink.State.EXPIRED or timezone.now() >= link.expires_at:
            return _outcome(BindEvent.Type.EXPIRE, parent=parent, student=student, share_link=link)
        if not parent.voip_scope_granted:
            return _outcome(BindEvent.Type.AUTH, parent=parent, student=student, share_link=link)
        existing = Contact.objects.filter(student=student, parent=parent).first()
        if existing is not None:
            return _outcome(BindEvent.Type.BINDED, parent=parent, student=student, share_link=link, contact=existing)
        if _limit_reached(student):
            return _outcome(BindEvent.Type.OVERLOAD, parent=parent, student=student, share_link=link)
        contact = _create_contact(
            student=student,
            parent=parent,
            role=Contact.Role.ORDINARY,
            relation=relation,
            bound_via=Contact.BoundVia.SHARE_LINK,
            share_link=link,
        )
        audit_log_record(
            action=AuditLog.Action.CONTACT_BOUND,
            student=student,
            actor_openid=parent.openid,
            data={"relation": relation, "share_link": link.pk, "issued_by": link.issued_by.openid},
        )
        return _outcome(BindEvent.Type.SUCCESS, parent=parent, student=student, share_link=link, contact=contact)


def share_links_expire(*, now: datetime | None = None) -> int:
    """Mark active share links past ``expires_at`` as expired, in one UPDATE; returns how many.

    Idempotent and safe when two runs overlap: the second finds nothing left to change.
    Binding never depends on it (``share_link_bind`` compares ``expires_at`` itself).
    """
    return ShareLink.objects.filter(state=ShareLink.State.ACTIVE, expires_at__lte=now or timezone.now()).update(
        state=ShareLink.State.EXPIRED
    )


def _revoke_links_of(*, student: Student, issuer: Parent, now: datetime) -> int:
    return ShareLink.objects.filter(student=student, issued_by=issuer, state=ShareLink.State.ACTIVE).update(
        state=ShareLink.State.REVOKED, revoked_at=now
    )


# --- Contact management ----------------------------------------------------------------------------


def _locked_own_contact(*, parent: Parent, user_id: str) -> tuple[Student, Contact]:
    """Lock the student and re-read the caller's contact under the lock (NotFound if gone)."""
    own = contact_access(parent=parent, user_id=user_id)
    student = student_lock(student_id=own.student_id)
    own = Contact.objects.select_related("parent").filter(pk=own.pk).first()
    if own is None:
        raise NotFound(_("No such student among yours."), field="user_id")
    return student, own


@transaction.atomic
def contacts_delete(*, parent: Parent, user_id: str, openid_list: list[str]) -> list[str]:
    """deleteVoipBindContact (seed 003 §2.3): the admin removes contacts; all or nothing.

    Returns the openids still bound. Raises ``NotFound`` (caller not a contact; field
    ``openid_list`` when an openid is not bound to the student), ``Forbidden`` (caller not admin),
    ``ApplicationError`` (field ``openid_list``: the admin cannot delete itself). Each removal
    records a ``cancel`` event and an audit row.
    """
    student, own = _locked_own_contact(parent=parent, user_id=user_id)
    if not own.is_admin:
        raise Forbidden(_("Only the admin contact may delete contacts."), code="not_admin")
    wanted = list(dict.fromkeys(openid_list))
    if parent.openid in wanted:
        raise ApplicationError(_("The admin cannot delete itself; transfer the admin role first."), field="openid_list")
    contacts = list(Contact.objects.select_related("parent").filter(student=student, parent__openid__in=wanted))
    missing = sorted(set(wanted) - {c.parent.openid for c in contacts})
    if missing:
        raise NotFound(
            _("Not a contact of this student: %(openids)s") % {"openids": ", ".join(missing)}, field="openid_list"
        )
    Contact.objects.filter(pk__in=[c.pk for c in contacts]).delete()
    for contact in contacts:
        _bind_event(type=BindEvent.Type.CANCEL, parent=contact.parent, student=student)
        audit_log_record(
            action=AuditLog.Action.CONTACT_DELETED,
            student=student,
            actor_openid=parent.openid,
            data={"openid": contact.parent.openid, "relation": contact.relation},
        )
    return list(
        Contact.objects.filter(student=student)
        .order_by("-role", "bound_at", "id")
        .values_list("parent__openid", flat=True)
    )


@transaction.atomic
def admin_transfer(*, parent: Parent, user_id: str, new_admin_openid: str) -> Contact:
    """transerAdmin (seed 003 §2.4): hand the admin role to another contact of the student.

    Atomic under the student lock: demote, then promote, so there is never zero or two admins
    (the partial unique index forbids two). The old admin's active share links are revoked.
    Returns the new admin's contact. Raises ``NotFound`` (caller not a contact; field
    ``new_admin_openid`` not a contact), ``Forbidden`` (caller not admin), ``ApplicationError``
    (field ``new_admin_openid`` is the caller).
    """
    student, own = _locked_own_contact(parent=parent, user_id=user_id)
    if not own.is_admin:
        raise Forbidden(_("Only the admin contact may transfer the admin role."), code="not_admin")
    if new_admin_openid == parent.openid:
        raise ApplicationError(_("You are already the admin."), field="new_admin_openid")
    new = Contact.objects.select_related("parent").filter(student=student, parent__openid=new_admin_openid).first()
    if new is None:
        raise NotFound(_("The new admin must already be a contact of this student."), field="new_admin_openid")
    Contact.objects.filter(pk=own.pk).update(role=Contact.Role.ORDINARY)
    Contact.objects.filter(pk=new.pk).update(role=Contact.Role.ADMIN)
    revoked = _revoke_links_of(student=student, issuer=parent, now=timezone.now())
    audit_log_record(
        action=AuditLog.Action.ADMIN_TRANSFERRED,
        student=student,
        actor_openid=parent.openid,
        data={"from": parent.openid, "to": new_admin_openid, "share_links_revoked": revoked},
    )
    new.role = Contact.Role.ADMIN
    return new


@transaction.atomic
def contact_unbind_self(*, parent: Parent, user_id: str) -> None:
    """An ordinary contact leaves the student (``cancel`` event).

    The admin must transfer the role first (``Conflict``) unless it is the student's only contact,
    in which case it may leave and its share links are revoked. Raises ``NotFound`` when the
    caller is not a contact.
    """
    student, own = _locked_own_contact(parent=parent, user_id=user_id)
    if own.is_admin:
        if Contact.objects.filter(student=student).exclude(pk=own.pk).exists():
            raise Conflict(_("The admin must transfer the admin role before leaving."), code="admin_must_transfer")
        _revoke_links_of(student=student, issuer=parent, now=timezone.now())
    own.delete()
    _bind_event(type=BindEvent.Type.CANCEL, parent=parent, student=student)
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
    student, own = _locked_own_contact(parent=parent, user_id=user_id)
    if not own.is_admin:
        raise Forbidden(_("Only the admin contact may set the call order."), code="not_admin")
    if len(set(openid_list)) != len(openid_list):
        raise ApplicationError(_("An openid appears twice."), field="openid_list")
    contacts = {c.parent.openid: c for c in Contact.objects.select_related("parent").filter(student=student)}
    missing = [o for o in openid_list if o not in contacts]
    if missing:
        raise NotFound(
            _("Not a contact of this student: %(openids)s") % {"openids": ", ".join(missing)}, field="openid_list"
        )
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
    return list(
        Contact.objects.filter(student=student)
        .order_by(models.F("call_order").asc(nulls_last=True), "-role", "bound_at", "id")
        .values_list("parent__openid", flat=True)
    )


def parent_tokens_purge(*, now: datetime | None = None) -> int:
    """Delete parents' bearer tokens that expired or were revoked more than a day ago."""
    cutoff = (now or timezone.now()) - timedelta(days=1)
    deleted, _ = ParentToken.objects.filter(expires_at__lt=cutoff).delete()
    revoked, _ = ParentToken.objects.filter(revoked_at__lt=cutoff).delete()
    return deleted + revoked
