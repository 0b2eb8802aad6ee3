"""Writes of the schools app: API client credentials and their access tokens, audit rows.

Every function is one transaction and writes its audit row inside it.
"""

import secrets
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import ApiAccessToken, ApiClient, AuditLog, School, Student
from .tokens import token_hash, token_new


def audit_log_record(
    *,
    action: str,
    school: School | None = None,
    student: Student | None = None,
    actor_user=None,
    actor_openid: str = "",
    reason: str = "",
    data: dict | None = None,
) -> AuditLog:
    """Write one audit row (who, what, when, why); call it inside the change's transaction."""
    if school is None and student is not None:
        school = student.school
    return AuditLog.objects.create(
        school=school,
        student=student,
        actor_user=actor_user,
        actor_openid=actor_openid,
        action=action,
        reason=reason,
        data=data or {},
    )


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
    raw = token_new()
    expires_at = timezone.now() + settings.API_ACCESS_TOKEN_TTL
    ApiAccessToken.objects.create(client=client, token_hash=token_hash(raw), expires_at=expires_at)
    return raw, expires_at


def api_access_tokens_purge(*, now: datetime | None = None) -> int:
    """Delete access tokens that expired more than a day ago (kept a day to answer 42001, not 40001)."""
    cutoff = (now or timezone.now()) - settings.API_ACCESS_TOKEN_TTL * 12
    deleted, _ = ApiAccessToken.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
