"""Reads of the schools app."""

import hmac

from core.tokens import token_hash
from core.validators import is_wechat_id
from schools.models import ApiAccessToken, ApiClient, Student


def api_client_get_active(*, appid: str) -> ApiClient | None:
    """The active client with ``appid`` (granted at least one active school), or None."""
    return ApiClient.objects.active().filter(appid=appid).first()


def api_client_secret_matches(*, client: ApiClient, secret: str) -> bool:
    """Whether ``secret`` is the client's current secret; compares digests in constant time."""
    return bool(client.secret_hash) and hmac.compare_digest(client.secret_hash, token_hash(secret))


def api_access_token_get(*, token: str) -> ApiAccessToken | None:
    """The stored token of a raw ``access_token`` (expired or not) of an active client, with the client."""
    return (
        ApiAccessToken.objects.select_related("client")
        .filter(ApiAccessToken.token_q(token), client__in=ApiClient.objects.active())
        .first()
    )


def student_get_active(*, user_id: str) -> Student | None:
    """The active student with ``user_id`` (of an active school), with its school, or None."""
    if not is_wechat_id(user_id):
        return None
    return Student.objects.active().select_related("school").filter(user_id=user_id).first()
