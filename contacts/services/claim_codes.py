"""Claim codes: printed on a student's letter, entered by the parent who becomes its admin contact.

Required by ``contacts.services.binding.admin_bind`` when the school sets ``require_claim_code``.
Single use, expiring (school setting ``claim_code_ttl_days``), one live code per student; only a
SHA-256 digest salted with the student is stored. Wrong codes are counted per student
(``CLAIM_CODE_MAX_ATTEMPTS`` per ``CLAIM_CODE_WINDOW``, then 429).
"""

import hmac
import re
import secrets
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.locks import students_lock
from contacts.models import ClaimCode, Parent
from core.errors import ApplicationError, Conflict, TooManyRequests
from core.tokens import token_hash
from schools.models import AuditLog, Student
from schools.services.audit import audit_log_record
from schools.tenancy import staff_check

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


def claim_code_check(*, student: Student, claim_code: str) -> ClaimCode:
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
            retry_after=int(settings.CLAIM_CODE_WINDOW.total_seconds()),  # at most: the window started earlier
        )
    live = ClaimCode.objects.live().filter(student=student).first()
    digest = _claim_code_digest(student=student, code=claim_code)
    if live is None or live.expires_at <= timezone.now() or not hmac.compare_digest(live.code_hash, digest):
        _claim_code_count_failure(student)
        raise ApplicationError(_("The claim code is not valid."), field="claim_code", code="invalid_claim_code")
    return live


def claim_code_use(*, code: ClaimCode, parent: Parent) -> None:
    """Mark ``code`` used by ``parent``; only one use can ever succeed (conditional UPDATE)."""
    used = ClaimCode.objects.live().filter(pk=code.pk).update(used_at=timezone.now(), used_by=parent)
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
    per student. ``NotFound`` / ``Forbidden`` unless ``issued_by`` may change every student's
    school (``staff_check``).
    """
    wanted = list(dict.fromkeys(student.pk for student in students))
    staff_check(issued_by, school_ids=Student.objects.filter(pk__in=wanted).values_list("school_id", flat=True))
    locked = {student.pk: student for student in students_lock(student_ids=wanted)}
    now = timezone.now()
    live = ClaimCode.objects.live().filter(student_id__in=list(locked))
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
