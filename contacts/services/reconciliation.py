"""Keeping the portal's contacts in step with WeChat's (seed 003 §2.1-§2.5; REFERENCE.md §1a).

WeChat holds the binding: the plugin binds (``bindVoipAdminContact``, the share page), deletes
(``deleteVoipBindContact``) and transfers (``transerAdmin``); ``getvoipcontactlist`` reads WeChat's
list. The portal allows or refuses before the plugin acts (``contacts.services.binding``), records
what the mini-program reports, and trusts neither blindly: ``bindings_reconcile`` reads WeChat's
list of a student and brings the portal into line:

- a contact WeChat has and the portal lacks is recorded (``bound_via`` ``wechat``);
- a reservation (``pending``) or an unconfirmed contact WeChat has becomes ``confirmed``; a
  reservation WeChat never completed is released after ``BINDING_PENDING_MINUTES``;
- a confirmed contact WeChat lacks becomes ``unconfirmed``: no longer served to devices;
- a removal (``removing``) is completed once WeChat's list no longer has it (a ``cancel`` event);
- roles follow WeChat's; a staff request to make a contact admin is done once WeChat says so;
- a list longer than the school's ``contact_limit`` is flagged.

Every change is an audit row and every difference a ``BindingDifference`` (open while it lasts).
Reports reconcile their student soon (``bindings_reconcile_soon``, debounced); every active
student is reconciled on a rolling schedule (``bindings_reconcile_due``). With ``WECHAT_SANDBOX``
(local development, no WeChat) the mini-program's reports stand for WeChat and nothing is read.
"""

import logging
import math
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.locks import student_lock
from contacts.models import BindEvent, BindingCheck, BindingDifference, Contact, Parent
from contacts.services.bind_events import bind_event_record
from contacts.services.share_links import share_links_revoke
from core.wechat.client import WeChatClient, WeChatError
from schools.models import AuditLog, Student
from schools.services.audit import audit_log_record
from schools.tenancy import SYSTEM, staff_check

logger = logging.getLogger(__name__)

RECONCILE_TASK = "contacts.tasks.reconcile_student_bindings"
Kind = BindingDifference.Kind
State = Contact.State


def _debounce_key(student_id: int) -> str:
    return f"bindings:reconcile:{student_id}"


def bindings_reconcile_soon(*, student_ids) -> None:
    """Have WeChat's lists of ``student_ids`` read in ``WECHAT_RECONCILE_DEBOUNCE_SECONDS`` seconds,
    once however many reports come meanwhile; queued when the current transaction commits (a
    rolled-back change queues nothing).

    The task is named, not imported (``contacts.tasks`` imports this module). A broker that cannot
    be reached only delays the check: the rolling schedule reaches every student.
    """
    if settings.WECHAT_SANDBOX:
        return
    for student_id in set(student_ids):
        transaction.on_commit(lambda student_id=student_id: _enqueue(student_id))


def _enqueue(student_id: int) -> None:
    delay = settings.WECHAT_RECONCILE_DEBOUNCE_SECONDS
    if not cache.add(_debounce_key(student_id), 1, timeout=delay):
        return  # a check is already queued; it reads WeChat's list after this change
    try:
        current_app.signature(RECONCILE_TASK, args=(student_id,)).apply_async(countdown=delay)
    except Exception:
        cache.delete(_debounce_key(student_id))
        logger.warning("could not queue the WeChat check of student %s", student_id, exc_info=True)


def bindings_reconcile(*, student_id: int, now: datetime | None = None) -> dict:
    """Read WeChat's list of the student and bring its contacts into line (module docstring).

    Returns ``{"wechat": n, "changes": [(kind, openid)]}``. Raises the client's ``WeChatError`` /
    ``WeChatUnavailable`` (nothing is changed then). The HTTP request is made before the student
    row is locked; the changes are one transaction under that lock.
    """
    cache.delete(_debounce_key(student_id))
    student = Student.objects.filter(pk=student_id).first()
    if student is None or settings.WECHAT_SANDBOX:  # deleted since the check was queued; or no WeChat
        return {"wechat": None, "changes": []}
    wechat = dict(WeChatClient.from_settings().get_voip_contact_list(student.user_id))
    with transaction.atomic():
        return _bring_into_line(student=student_lock(student_id=student_id), wechat=wechat, now=now or timezone.now())


def _bring_into_line(*, student: Student, wechat: dict[str, int], now: datetime) -> dict:
    contacts = {c.parent.openid: c for c in Contact.objects.select_related("parent").filter(student=student)}
    record = _Record(student=student, now=now)
    found = set()

    for openid, role in wechat.items():
        contact = contacts.get(openid)
        if contact is None:
            parent, _created = Parent.objects.get_or_create(openid=openid)
            contact = Contact.objects.create(
                student=student,
                parent=parent,
                role=Contact.Role.ORDINARY,  # set below, after any demotion
                bound_via=Contact.BoundVia.WECHAT,
                state=State.CONFIRMED,
                state_changed_at=now,
                bound_at=now,
            )
            contacts[openid] = contact
            found.add(openid)
            record.fixed(Kind.FOUND_AT_WECHAT, openid, AuditLog.Action.WECHAT_CONTACT_FOUND, role=role)
        elif contact.state in (State.PENDING, State.UNCONFIRMED):
            record.fixed(None, openid, AuditLog.Action.WECHAT_CONTACT_CONFIRMED, was=contact.state)
            _set_state(contact, State.CONFIRMED, now)
        elif contact.state == State.REMOVING:
            record.open(Kind.REMOVAL_PENDING, openid)

    for openid, contact in list(contacts.items()):
        if openid in wechat:
            continue
        if contact.state == State.PENDING:
            if contact.state_changed_at <= now - timedelta(minutes=settings.BINDING_PENDING_MINUTES):
                record.fixed(Kind.PENDING_EXPIRED, openid, AuditLog.Action.BINDING_RELEASED)
                contact.delete()
                del contacts[openid]
        elif contact.state == State.REMOVING:
            record.fixed(None, openid, AuditLog.Action.WECHAT_CONTACT_REMOVED)
            bind_event_record(type=BindEvent.Type.CANCEL, parent=contact.parent, student=student)
            contact.delete()
            del contacts[openid]
        else:
            if contact.state == State.CONFIRMED:
                record.fixed(None, openid, AuditLog.Action.WECHAT_CONTACT_MISSING)
                _set_state(contact, State.UNCONFIRMED, now)
            record.open(Kind.MISSING_AT_WECHAT, openid)

    _align_roles(contacts=contacts, wechat=wechat, record=record, found=found)
    for openid, contact in contacts.items():
        if contact.admin_requested_at is None:
            continue
        if wechat.get(openid) == Contact.Role.ADMIN:
            Contact.objects.filter(pk=contact.pk).update(admin_requested_at=None)
        else:
            record.open(Kind.ADMIN_REQUEST_PENDING, openid)
    limit = student.school.contact_limit
    if len(wechat) > limit and record.open(Kind.OVER_LIMIT, "", contacts=len(wechat), limit=limit):
        record.audit(AuditLog.Action.WECHAT_OVER_LIMIT, "", contacts=len(wechat), limit=limit)
    record.close_others()
    BindingCheck.objects.update_or_create(
        student=student, defaults={"checked_at": now, "contacts_at_wechat": len(wechat)}
    )
    return {"wechat": len(wechat), "changes": record.changes}


def _set_state(contact: Contact, state: str, now: datetime) -> None:
    Contact.objects.filter(pk=contact.pk).update(state=state, state_changed_at=now)
    contact.state, contact.state_changed_at = state, now


def _align_roles(*, contacts: dict[str, Contact], wechat: dict[str, int], record: "_Record", found: set) -> None:
    """Roles follow WeChat's: demotions first, then promotions (PostgreSQL keeps one admin per student).

    A contact WeChat lacks keeps its role unless WeChat has another admin. Contacts just ``found``
    at WeChat take their role without a difference of their own.
    """
    wechat_has_admin = Contact.Role.ADMIN in wechat.values()
    target = {
        openid: wechat.get(openid, Contact.Role.ORDINARY if wechat_has_admin else contact.role)
        for openid, contact in contacts.items()
    }
    changed = [(openid, c) for openid, c in contacts.items() if c.role != target[openid]]
    for openid, contact in sorted(changed, key=lambda item: target[item[0]]):  # ORDINARY (0) first
        Contact.objects.filter(pk=contact.pk).update(role=target[openid])
        if contact.role == Contact.Role.ADMIN:  # demoted: its share links stop binding
            share_links_revoke(student_ids=[record.student.pk], issued_by_id=contact.parent_id, now=record.now)
        if openid not in found:
            record.fixed(
                Kind.ROLE_ALIGNED, openid, AuditLog.Action.WECHAT_ROLE_ALIGNED, was=contact.role, role=target[openid]
            )
        contact.role = target[openid]


class _Record:
    """The audit rows and differences of one reconciliation of ``student``."""

    def __init__(self, *, student: Student, now: datetime):
        self.student, self.now = student, now
        self.changes: list[tuple[str, str]] = []
        self.still_open: set[tuple[str, str]] = set()

    def audit(self, action: str, openid: str, **detail) -> None:
        audit_log_record(action=action, student=self.student, data={"openid": openid, **detail})
        self.changes.append((action, openid))

    def fixed(self, kind: str | None, openid: str, action: str, **detail) -> None:
        """A difference reconciliation resolved by itself: an audit row, and a resolved difference."""
        self.audit(action, openid, **detail)
        if kind is not None:
            BindingDifference.objects.create(
                student=self.student,
                openid=openid,
                kind=kind,
                detail=detail,
                detected_at=self.now,
                resolved_at=self.now,
            )

    def open(self, kind: str, openid: str, **detail) -> bool:
        """A difference that lasts until WeChat or a person resolves it; True when it is new."""
        self.still_open.add((kind, openid))
        _diff, created = BindingDifference.objects.get_or_create(
            student=self.student,
            openid=openid,
            kind=kind,
            resolved_at=None,
            defaults={"detail": detail, "detected_at": self.now},
        )
        return created

    def close_others(self) -> None:
        for diff in BindingDifference.objects.filter(student=self.student, resolved_at=None):
            if (diff.kind, diff.openid) not in self.still_open:
                BindingDifference.objects.filter(pk=diff.pk).update(resolved_at=self.now)


RECONCILE_NOW_MAX = 50  # students a staff member may have checked at once (WeChat's rate limit)


def bindings_reconcile_now(*, student_ids, actor_user=SYSTEM) -> tuple[int, list[str]]:
    """Staff's "check against WeChat now": reconcile up to ``RECONCILE_NOW_MAX`` students at once.

    Returns ``(checked, errors)``, one readable error per student WeChat could not answer for (the
    others are still checked). ``NotFound`` / ``Forbidden`` unless ``actor_user`` may change every
    student's school (``staff_check``).
    """
    wanted = list(dict.fromkeys(student_ids))[:RECONCILE_NOW_MAX]
    staff_check(actor_user, school_ids=Student.objects.filter(pk__in=wanted).values_list("school_id", flat=True))
    checked, errors = 0, []
    for student_id in wanted:
        try:
            bindings_reconcile(student_id=student_id)
        except WeChatError as exc:
            errors.append(f"{Student.objects.get(pk=student_id)}: {exc}")
            continue
        checked += 1
    return checked, errors


def bindings_reconcile_due(*, now: datetime | None = None) -> int:
    """The rolling check (beat, every minute): reconcile the active students checked longest ago.

    Each run takes ``ceil(active students / minutes in WECHAT_RECONCILE_PERIOD_HOURS)`` students,
    at most ``WECHAT_RECONCILE_MAX_PER_MINUTE`` (WeChat's rate limit), so every student is checked
    once per period, spread over the day. Resumable: the order is kept in ``BindingCheck``. Stops
    at the first WeChat failure (the next run resumes there). Returns how many were checked.
    """
    if settings.WECHAT_SANDBOX:
        return 0
    now = now or timezone.now()
    students = Student.objects.active()
    per_run = math.ceil(students.count() / (settings.WECHAT_RECONCILE_PERIOD_HOURS * 60))
    batch = min(per_run, settings.WECHAT_RECONCILE_MAX_PER_MINUTE)
    due = students.order_by(F("binding_check__checked_at").asc(nulls_first=True), "pk").values_list("pk", flat=True)
    checked = 0
    for student_id in list(due[:batch]):
        try:
            bindings_reconcile(student_id=student_id, now=now)
        except Exception:
            logger.warning("WeChat check of student %s failed; resuming next run", student_id, exc_info=True)
            break
        checked += 1
    return checked
