"""Bearer-token authentication of the parents' mini-program (``Authorization: Bearer <token>``)."""

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core.prepared import prepared
from core.tokens import token_hash

from .models import ParentToken


@prepared
def _token(*, digest: str) -> QuerySet:
    # ``ParentToken.token_q`` by its digest (computed by the caller): compiled once per connection.
    return ParentToken.objects.select_related("parent").filter(token_hash=digest).order_by()[:1]


class ParentTokenAuthentication(authentication.BaseAuthentication):
    """Looks the token up by its SHA-256 digest; expired or revoked tokens answer 401.

    ``request.user`` becomes the ``Parent``, ``request.auth`` the ``ParentToken``.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Authorization: the header must be 'Bearer <token>'."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(_("Authorization: the token is malformed.")) from exc
        found = _token(digest=token_hash(raw))
        token = found[0] if found else None
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("Authorization: the token is invalid or revoked; log in again."))
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed(_("Authorization: the token has expired; log in again."))
        return token.parent, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ParentTokenScheme(OpenApiAuthenticationExtension):
    target_class = "contacts.authentication.ParentTokenAuthentication"
    name = "ParentBearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Token from POST /api/v1/auth/login."}
