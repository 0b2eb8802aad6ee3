"""Parents' sessions: login with a ``wx.login`` code, bearer tokens, and scope.voip (REFERENCE.md §2, §5)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Parent, ParentToken
from core.errors import ApplicationError, TooManyRequests, UpstreamError, UpstreamUnavailable
from core.validators import wechat_id_validator
from core.wechat.client import Session, WeChatClient, WeChatError, WeChatUnavailable
from core.wechat.errcodes import ErrCode
from schools.models import AuditLog
from schools.services.audit import audit_log_record

SANDBOX_CODE_PREFIX = "sandbox:"


@dataclass(frozen=True)
class LoginResult:
    parent: Parent
    token: str
    expires_at: datetime


def _openid_from_code(code: str) -> Session:
    if settings.WECHAT_SANDBOX and settings.DEBUG and code.startswith(SANDBOX_CODE_PREFIX):
        openid = code[len(SANDBOX_CODE_PREFIX) :]
        try:
            wechat_id_validator(openid)
        except DjangoValidationError as exc:
            raise ApplicationError(exc.messages[0], field="code") from exc
        return Session(openid=openid)
    try:
        return WeChatClient.from_settings().jscode2session(code)
    except WeChatUnavailable as exc:
        raise UpstreamUnavailable() from exc
    except WeChatError as exc:
        if exc.errcode == ErrCode.INVALID_CODE:
            raise ApplicationError(
                _("The wx.login code is invalid or has expired."), field="code", code="invalid_code"
            ) from exc
        if exc.errcode == ErrCode.CODE_USED:
            raise ApplicationError(
                _("The wx.login code has already been used."), field="code", code="code_used"
            ) from exc
        if exc.errcode == ErrCode.RATE_LIMITED:
            raise TooManyRequests(_("Too many logins for now; try again in a minute."), retry_after=60) from exc
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
        expires_at = now + settings.PARENT_TOKEN_TTL
        _token, raw = ParentToken.issue(parent=parent, created_at=now, expires_at=expires_at)
    return LoginResult(parent=parent, token=raw, expires_at=expires_at)


def parent_token_revoke(*, token: ParentToken) -> None:
    """Revoke a bearer token (logout); later requests with it answer 401."""
    ParentToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def parent_set_voip_scope(*, parent: Parent, granted: bool) -> Parent:
    """Record the result of ``wx.authorize({scope: 'scope.voip'})`` (REFERENCE.md §2)."""
    parent.voip_scope_granted = granted
    parent.voip_scope_updated_at = timezone.now()
    parent.voip_scope_lost_at = None
    parent.save(update_fields=["voip_scope_granted", "voip_scope_updated_at", "voip_scope_lost_at"])
    audit_log_record(action=AuditLog.Action.VOIP_SCOPE_CHANGED, actor_openid=parent.openid, data={"granted": granted})
    return parent


@transaction.atomic
def parent_voip_scope_lost(*, parent: Parent, now: datetime) -> bool:
    """A device's call to ``parent`` failed with errCode 8 (REFERENCE.md §4; FAQ 3.6): WeChat no longer
    has its scope.voip. Mark it not granted, so that its mini-program asks ``wx.authorize`` again
    (``GET /api/v1/me/voip-scope`` answers ``ask_again``). Returns whether it was granted until now;
    audited once."""
    lost = Parent.objects.filter(pk=parent.pk, voip_scope_granted=True).update(
        voip_scope_granted=False, voip_scope_updated_at=now, voip_scope_lost_at=now
    )
    if lost:
        audit_log_record(
            action=AuditLog.Action.VOIP_SCOPE_CHANGED, actor_openid=parent.openid, data={"granted": False, "errCode": 8}
        )
    return bool(lost)


def parent_tokens_purge(*, now: datetime | None = None) -> int:
    """Delete parents' bearer tokens that expired or were revoked more than a day ago."""
    cutoff = (now or timezone.now()) - timedelta(days=1)
    deleted, _ = ParentToken.objects.filter(expires_at__lt=cutoff).delete()
    revoked, _ = ParentToken.objects.filter(revoked_at__lt=cutoff).delete()
    return deleted + revoked
