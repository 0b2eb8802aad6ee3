"""Device vendors' API clients: secrets, the schools they are granted, access tokens (REFERENCE.md §5).

Every function that changes state is one transaction and writes its audit row inside it.
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
from schools.models import ApiAccessToken, ApiClient, ApiClientGrant, AuditLog
from schools.selectors import api_access_token_cache_changed, api_client_get_active, api_client_secret_matches
from schools.services.audit import audit_log_build, audit_log_record, audit_logs_record
from schools.tenancy import SYSTEM, staff_check, staff_check_platform

APPID_RE = re.compile(r"[0-9A-Za-z_\-]{1,32}")
_NO_CLIENT = ApiClient(secret_hash=token_hash("no client has this secret"))  # compared with, never saved


@transaction.atomic
def api_client_issue_secret(*, client: ApiClient, actor_user=SYSTEM) -> str:
    """Give ``client`` a new secret and return it (shown once); older secrets stop working.

    Existing access tokens are revoked too, so a leaked secret is fully replaced. ``actor_user``
    must be a school administrator of the client's one school, or a platform superuser for a client
    several schools share (``Forbidden``, code ``platform_only``: one school must not stop another
    school's phones); a viewer is ``Forbidden`` (``read_only``), another school's staff ``NotFound``.
    """
    school_ids = set(client.grants.values_list("school_id", flat=True))
    if len(school_ids) > 1:
        staff_check_platform(actor_user)
    staff_check(actor_user, school_ids=school_ids)
    secret = token_new()
    client.secret_hash = token_hash(secret)
    client.save(update_fields=["secret_hash"])
    client.access_tokens.all().delete()
    audit_logs_record(
        [
            audit_log_build(
                action=AuditLog.Action.API_SECRET_ISSUED,
                school=grant.school,
                actor_user=actor_user,
                data={"appid": client.appid},
            )
            for grant in client.grants.select_related("school")
        ]
    )
    return secret


@transaction.atomic
def api_client_create(*, name: str, school_ids, actor_user=SYSTEM) -> tuple[ApiClient, str]:
    """Register a vendor backend granted ``school_ids``; returns ``(client, secret)``, the secret shown once.

    A school administrator registers clients of its own school only (``staff_check``); a client
    of several schools is the platform's (``staff_check_platform``).
    """
    school_ids = sorted(set(school_ids))
    if len(school_ids) > 1:
        staff_check_platform(actor_user)
    staff_check(actor_user, school_ids=school_ids)
    client = ApiClient.objects.create(name=name, appid=f"wx{secrets.token_hex(8)}", secret_hash="")
    for school_id in school_ids:
        _grant(client=client, school_id=school_id, actor_user=actor_user)
    return client, api_client_issue_secret(client=client, actor_user=actor_user)


@transaction.atomic
def api_client_grant(*, client: ApiClient, school_id: int, actor_user=SYSTEM) -> ApiClientGrant:
    """Let ``client`` call the device API for the school ``school_id`` (idempotent); audited.
    The platform's change (``staff_check_platform``)."""
    staff_check_platform(actor_user)
    return _grant(client=client, school_id=school_id, actor_user=actor_user)


def _grant(*, client: ApiClient, school_id: int, actor_user) -> ApiClientGrant:
    grant, created = ApiClientGrant.objects.get_or_create(client=client, school_id=school_id)
    if created:
        audit_log_record(
            action=AuditLog.Action.API_CLIENT_GRANTED,
            school=grant.school,
            actor_user=actor_user,
            data={"appid": client.appid},
        )
    return grant


@transaction.atomic
def api_client_set_schools(*, client: ApiClient, school_ids, actor_user=SYSTEM) -> None:
    """Grant ``client`` exactly ``school_ids``: new grants and withdrawn ones are each audited in
    their school. A withdrawn school's devices and students are unknown to the client at once.
    The platform's change (``staff_check_platform``)."""
    staff_check_platform(actor_user)
    wanted = set(school_ids)
    for grant in client.grants.select_related("school").exclude(school_id__in=wanted):
        audit_log_record(
            action=AuditLog.Action.API_CLIENT_UNGRANTED,
            school=grant.school,
            actor_user=actor_user,
            data={"appid": client.appid},
        )
        grant.delete()
    for school_id in sorted(wanted):
        _grant(client=client, school_id=school_id, actor_user=actor_user)


@transaction.atomic
def api_access_token_issue(*, client: ApiClient) -> tuple[str, datetime]:
    """Issue an ``access_token`` for ``client``: ``(token, expires_at)``, valid 7200 s (REFERENCE.md §5).

    As WeChat does, the client's earlier tokens stay valid only ``API_ACCESS_TOKEN_OVERLAP`` (300 s)
    more, so that processes holding one can switch: a client has one token live, plus those issued
    in the last 5 minutes (a number ``/cgi-bin/token``'s rate limit bounds).
    """
    now = timezone.now()
    ApiAccessToken.objects.filter(client=client, expires_at__gt=now + settings.API_ACCESS_TOKEN_OVERLAP).update(
        expires_at=now + settings.API_ACCESS_TOKEN_OVERLAP
    )
    api_access_token_cache_changed()  # the shortened tokens' cached lookups
    expires_at = now + settings.API_ACCESS_TOKEN_TTL
    _token, raw = ApiAccessToken.issue(client=client, expires_at=expires_at)
    return raw, expires_at


def api_access_token_grant(*, grant_type: str, appid: str, secret: str) -> tuple[str, datetime]:
    """``/cgi-bin/token`` (REFERENCE.md §5): an ``access_token`` for the client ``appid`` whose secret is ``secret``.

    Returns ``(token, expires_at)`` (``api_access_token_issue``). Raises ``ApplicationError``
    with errcode 40002 (``grant_type`` is not ``client_credential``), 41002 / 41004 (``appid`` /
    ``secret`` missing), ``Unauthorized`` with 40001 for an unknown appid and for a wrong secret
    alike (one answer, and the same work, so that appids cannot be enumerated).
    """
    if grant_type != "client_credential":
        raise ApplicationError(errcode=ErrCode.INVALID_GRANT_TYPE)
    if not appid:
        raise ApplicationError(errcode=ErrCode.APPID_MISSING)
    if not secret:
        raise ApplicationError(errcode=ErrCode.SECRET_MISSING)
    client = api_client_get_active(appid=appid) if APPID_RE.fullmatch(appid) else None
    # An unknown appid is checked against a dummy digest: the same work, the same answer.
    if not api_client_secret_matches(client=client or _NO_CLIENT, secret=secret) or client is None:
        raise Unauthorized("invalid credential, appid or secret is wrong", errcode=ErrCode.INVALID_CREDENTIAL)
    return api_access_token_issue(client=client)


def api_access_tokens_purge(*, now: datetime | None = None) -> int:
    """Delete access tokens that expired more than a day ago (kept a day to answer 42001, not 40001)."""
    cutoff = (now or timezone.now()) - settings.API_ACCESS_TOKEN_TTL * 12
    deleted, _ = ApiAccessToken.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
