"""Reads of the schools app."""

import hmac

from core.tokens import token_hash
from core.validators import is_wechat_id
from schools.models import ApiAccessToken, ApiClient, OutboxEvent, Student

EVENTS_PAGE_MAX = 500


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


def event_payload(event: OutboxEvent) -> dict:
    """The JSON an event is delivered as (webhook body) and listed as (``events_page``):
    ``{event_id, type, school, created_at (ISO 8601), data}``; ``data`` is the type's own shape."""
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "school": event.school_id,
        "created_at": event.created_at.isoformat(),
        "data": event.data,
    }


def events_page(*, client: ApiClient, cursor: int = 0, limit: int = 100) -> tuple[list[OutboxEvent], int, bool]:
    """The events of ``client``'s active schools after position ``cursor``, in commit order, at most
    ``limit`` (1 … ``EVENTS_PAGE_MAX``): ``(events, next_cursor, has_more)``. ``next_cursor`` is the
    last position returned (``cursor`` itself when nothing is new), to pass next time; events get
    their position after commit (``schools.services.events.outbox_positions_assign``), so a page
    never skips one that commits later."""
    limit = max(1, min(limit, EVENTS_PAGE_MAX))
    events = list(
        OutboxEvent.objects.filter(school_id__in=client.school_ids(), position__gt=cursor).order_by("position")[
            : limit + 1
        ]
    )
    has_more = len(events) > limit
    events = events[:limit]
    return events, (events[-1].position if events else cursor), has_more
