"""Abstract models every app may build on (``core`` is not an app: nothing here has a table)."""

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.tokens import token_hash, token_new


class HashedToken(models.Model):
    """A random secret (``core.tokens``, 256 bits) shown once and stored only as its SHA-256 digest,
    valid until ``expires_at``: parents' bearer tokens, vendors' access tokens, share links."""

    token_hash = models.CharField(_("token digest"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        abstract = True

    @classmethod
    def issue(cls, *, expires_at: datetime, **fields) -> tuple["HashedToken", str]:
        """Create a row with a new token; returns ``(row, raw token)``. The raw token is not stored."""
        raw = token_new()
        return cls.objects.create(token_hash=token_hash(raw), expires_at=expires_at, **fields), raw

    @staticmethod
    def token_q(raw: str) -> Q:
        """The row whose token is ``raw`` (a filter on its digest)."""
        return Q(token_hash=token_hash(raw))
