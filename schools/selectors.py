"""Reads of the schools app."""

import hmac

from .models import ApiAccessToken, ApiClient, Student
from .tokens import token_hash
from .validators import is_wechat_id


def api_client_get_active(*, appid: str) -> ApiClient | None:
    """The active client with ``appid`` of an active school, or None."""
    return (
        ApiClient.objects.select_related("school").filter(appid=appid, is_active=True, school__is_active=True).first()
    )


def api_client_secret_matches(*, client: ApiClient, secret: str) -> bool:
    """Whether ``secret`` is the client's current secret; compares digests in constant time."""
    return bool(client.secret_hash) and hmac.compare_digest(client.secret_hash, token_hash(secret))


def api_access_token_get(*, token: str) -> ApiAccessToken | None:
    """The stored access token for a raw ``access_token`` (expired or not), with client and school."""
    return (
        ApiAccessToken.objects.select_related("client__school")
        .filter(token_hash=token_hash(token), client__is_active=True, client__school__is_active=True)
        .first()
    )


def student_get_active(*, user_id: str, school_id: int | None = None) -> Student | None:
    """The active student with ``user_id`` (in ``school_id`` when given), or None."""
    if not is_wechat_id(user_id):
        return None
    qs = Student.objects.select_related("school").filter(user_id=user_id, is_active=True, school__is_active=True)
    if school_id is not None:
        qs = qs.filter(school_id=school_id)
    return qs.first()
