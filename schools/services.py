"""Writes of the schools app: API client credentials and their access tokens, audit rows.

Every function is one transaction and writes its audit row inside it.
"""

import re
import secrets
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError, Unauthorized
from core.tokens import token_hash, token_new
from core.wechat.errcodes import ErrCode
from schools.models import ApiAccessToken, ApiClient, AuditLog, School, Student
from schools.selectors import api_client_get_active, api_client_secret_matches

APPID_RE = re.compile(r"[0-9A-Za-z_\-]{1,32}")


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


@transaction.atomic
def api_client_issue_secret(*, client: ApiClient, actor_user=None) -> str:
    """Give ``client`` a new secret and return it (shown once); older secrets stop working.

    Existing access tokens are revoked too, so a leaked secret is fully replaced.
    """
    secret = token_new()
    client.secret_hash = token_hash(secret)
    client.save(update_fields=["secret_hash"])
    client.access_tokens.all().delete()
    audit_log_record(
        action=AuditLog.Action.API_SECRET_ISSUED,
        school=client.school,
        actor_user=actor_user,
        data={"appid": client.appid},
    )
    return secret


@transaction.atomic
def api_client_create(*, school: School, name: str, actor_user=None) -> tuple[ApiClient, str]:
    """Register a vendor backend for ``school``; returns ``(client, secret)``, the secret shown once."""
    client = ApiClient.objects.create(school=school, name=name, appid=f"wx{secrets.token_hex(8)}", secret_hash="")
    return client, api_client_issue_secret(client=client, actor_user=actor_user)


def api_access_token_issue(*, client: ApiClient) -> tuple[str, datetime]:
    """Issue an ``access_token`` for ``client``: ``(token, expires_at)``, valid 7200 s (REFERENCE.md §5).

    Earlier tokens stay valid until they expire, so several vendor processes may each hold one.
    """
    expires_at = timezone.now() + settings.API_ACCESS_TOKEN_TTL
    _token, raw = ApiAccessToken.issue(client=client, expires_at=expires_at)
    return raw, expires_at


def api_access_token_grant(*, grant_type: str, appid: str, secret: str) -> tuple[str, datetime]:
    """``/cgi-bin/token`` (REFERENCE.md §5): an ``access_token`` for the client ``appid`` whose secret is ``secret``.

    Returns ``(token, expires_at)`` (``api_access_token_issue``). Raises ``ApplicationError``
    with errcode 40002 (``grant_type`` is not ``client_credential``), 41002 / 41004 (``appid`` /
    ``secret`` missing), ``Unauthorized`` with 40013 (no active client ``appid`` of an active
    school) or 40001 (wrong secret).
    """
    if grant_type != "client_credential":
        raise ApplicationError(errcode=ErrCode.INVALID_GRANT_TYPE)
    if not appid:
        raise ApplicationError(errcode=ErrCode.APPID_MISSING)
    if not secret:
        raise ApplicationError(errcode=ErrCode.SECRET_MISSING)
    client = api_client_get_active(appid=appid) if APPID_RE.fullmatch(appid) else None
    if client is None:
        raise Unauthorized(errcode=ErrCode.INVALID_APPID)
    if not api_client_secret_matches(client=client, secret=secret):
        raise Unauthorized("invalid credential, secret is wrong", errcode=ErrCode.INVALID_CREDENTIAL)
    return api_access_token_issue(client=client)


def api_access_tokens_purge(*, now: datetime | None = None) -> int:
    """Delete access tokens that expired more than a day ago (kept a day to answer 42001, not 40001)."""
    cutoff = (now or timezone.now()) - settings.API_ACCESS_TOKEN_TTL * 12
    deleted, _ = ApiAccessToken.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
