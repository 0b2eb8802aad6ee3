"""Reads of the schools app."""

import hmac
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connections, router, transaction
from django.utils import timezone

from core.tokens import token_hash
from core.validators import is_wechat_id
from schools.grades import class_sort_key, school_ordered
from schools.models import ApiAccessToken, ApiClient, OutboxEvent, Student

EVENTS_PAGE_MAX = 500


def api_client_get_active(*, appid: str) -> ApiClient | None:
    """The active client with ``appid`` (granted at least one active school), or None."""
    return ApiClient.objects.active().filter(appid=appid).first()


def api_client_secret_matches(*, client: ApiClient, secret: str) -> bool:
    """Whether ``secret`` is the client's current secret; compares digests in constant time."""
    return bool(client.secret_hash) and hmac.compare_digest(client.secret_hash, token_hash(secret))


# Every device-API request authenticates its access_token: the lookup is cached in the shared cache
# for at most API_TOKEN_CACHE_SECONDS, each entry stamped with a version that any change of a
# client, grant, school or token bumps (api_access_token_cache_clear, wired in schools.apps), so a
# deactivated client or school, a withdrawn grant or a shortened token is never served from it.
# Each process also keeps a validated entry in its own memory for API_TOKEN_LOCAL_SECONDS (5 s), so
# most requests make no round trip at all: the process that makes a change drops its copies at
# once; the others serve theirs until they expire — the one bounded delay, by design.
API_TOKEN_CACHE_SECONDS = 60
API_TOKEN_CACHE_VERSION_KEY = "api-access-token:version"


def api_access_token_cache_clear(**kwargs) -> None:
    """Invalidate every cached access-token lookup (this process's copies at once, the other
    processes' within API_TOKEN_LOCAL_SECONDS); also a signal receiver (``**kwargs`` ignored)."""
    caches["local"].clear()  # holds nothing else
    try:
        cache.incr(API_TOKEN_CACHE_VERSION_KEY)
    except ValueError:  # not set yet, or evicted: any new value differs from the entries' stamps
        cache.set(API_TOKEN_CACHE_VERSION_KEY, int(timezone.now().timestamp() * 1e6), None)


def api_access_token_cache_changed(**kwargs) -> None:
    """A client, grant, school or token changed: drop the cached lookups at once, and again after the
    change commits, so that a request that read the old rows meanwhile cannot keep them cached.
    Call it after any bulk ``update()`` of those rows; a signal receiver of their saves and deletes."""
    api_access_token_cache_clear()
    transaction.on_commit(api_access_token_cache_clear, using=kwargs.get("using"))


def api_access_token_get(*, token: str) -> ApiAccessToken | None:
    """The stored token of a raw ``access_token`` (expired or not) of an active client, with the client.

    No round trip when this process validated it in the last ``API_TOKEN_LOCAL_SECONDS``; one
    cache round trip when cached (``API_TOKEN_CACHE_SECONDS``, 60 s at most, never past the
    token's expiry); otherwise one query, and one more for the client's active schools when the
    token is known and unexpired. A cached client comes with ``id``, ``name``, ``appid``,
    ``is_active`` and ``active_school_ids`` (what ``ApiClient.school_ids`` answers; not its secret
    digest).
    """
    digest = token_hash(token)
    entry_key = f"api-access-token:{digest}"
    entry = caches["local"].get(entry_key)
    if entry is not None:
        return _token_from_entry(digest, entry)
    cached = cache.get_many([API_TOKEN_CACHE_VERSION_KEY, entry_key])
    version, entry = cached.get(API_TOKEN_CACHE_VERSION_KEY), cached.get(entry_key)
    if entry is not None and version is not None and entry[0] == version:
        _keep_locally(entry_key, entry)
        return _token_from_entry(digest, entry)
    if version is None:
        api_access_token_cache_clear()
        version = cache.get(API_TOKEN_CACHE_VERSION_KEY)
    found = (
        ApiAccessToken.objects.select_related("client")
        .only("id", "expires_at", "client__id", "client__name", "client__appid", "client__is_active")
        .filter(token_hash=digest, client__in=ApiClient.objects.active())
        .order_by()
        .first()
    )
    ttl = 0 if found is None else _seconds_until(found.expires_at)
    if ttl > 0:  # an expired token is refused: its schools are not needed
        client = found.client
        school_ids = sorted(client.school_ids().values_list("school_id", flat=True))
        client.active_school_ids = school_ids  # this request's lookups too
        if version is not None:
            entry = (version, found.id, found.expires_at, client.id, client.name, client.appid, school_ids)
            cache.set(entry_key, entry, min(API_TOKEN_CACHE_SECONDS, ttl))
            _keep_locally(entry_key, entry)
    return found


def _token_from_entry(digest: str, entry: tuple) -> ApiAccessToken:
    _version, token_id, expires_at, client_id, name, appid, school_ids = entry
    client = ApiClient(id=client_id, name=name, appid=appid, is_active=True)
    client.active_school_ids = school_ids
    found = ApiAccessToken(id=token_id, token_hash=digest, expires_at=expires_at, client=client)
    found._state.adding = False
    client._state.adding = False
    return found


def _keep_locally(entry_key: str, entry: tuple) -> None:
    """This process's copy of a validated entry, for API_TOKEN_LOCAL_SECONDS at most, never past expiry."""
    seconds = min(settings.API_TOKEN_LOCAL_SECONDS, _seconds_until(entry[2]))
    if seconds > 0:
        caches["local"].set(entry_key, entry, seconds)


def _seconds_until(moment: datetime) -> int:
    return int((moment - timezone.now()).total_seconds())


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


@dataclass(frozen=True)
class ClassVocabulary:
    """The grades and classes a school's students are in, in the order the school reads them
    (``schools.grades.class_sort_key``: 一年级 < 二年级 < 十年级, 2班 < 10班).

    ``pairs``: each ``(grade, class_name)`` in use once, as stored (blank when a student has none).
    """

    pairs: tuple[tuple[str, str], ...]

    @property
    def grades(self) -> list[str]:
        """Each grade once, in school order."""
        return school_ordered(grade for grade, _class_name in self.pairs)

    @property
    def class_names(self) -> list[str]:
        """Each class name once, in school order (a name shared by two grades, ``1班``, once)."""
        return school_ordered(class_name for _grade, class_name in self.pairs)


# A loose index scan: one index probe per (grade, class_name) in use, each the smallest pair above
# the last one, instead of reading every student as DISTINCT does. Walks student_school_order_idx
# for one school, student_grade_class_idx for every school (``{school}`` is empty then).
_VOCABULARY_SQL = """
WITH RECURSIVE vocabulary (grade, class_name) AS (
    (SELECT grade, class_name FROM {table} WHERE TRUE {school} ORDER BY grade, class_name LIMIT 1)
    UNION ALL
    SELECT following.grade, following.class_name
    FROM vocabulary, LATERAL (
        SELECT grade, class_name FROM {table}
        WHERE (grade, class_name) > (vocabulary.grade, vocabulary.class_name) {school}
        ORDER BY grade, class_name LIMIT 1
    ) AS following
)
SELECT grade, class_name FROM vocabulary
"""


def class_vocabulary(*, school_id: int | None) -> ClassVocabulary:
    """The grades and classes of the students (active or not) of one school, or of every school
    when ``school_id`` is None (``schools.tenancy.ALL_SCHOOLS``, a superuser's scope); a school that
    does not exist (``NO_SCHOOL``) has none. The admin's grade and class filters offer these.

    One query. On PostgreSQL a loose index scan (a probe per pair: about 60 for a school of 60
    classes, ~1 ms at a million students); elsewhere (SQLite, ``make run``) a ``DISTINCT``.
    """
    using = router.db_for_read(Student)
    connection = connections[using]
    if connection.vendor != "postgresql":
        students = Student.objects.using(using).order_by()
        if school_id is not None:
            students = students.filter(school_id=school_id)
        pairs = students.values_list("grade", "class_name").distinct()
    else:
        table = connection.ops.quote_name(Student._meta.db_table)
        school, params = ("", []) if school_id is None else ("AND school_id = %s", [school_id, school_id])
        with connection.cursor() as cursor:
            cursor.execute(_VOCABULARY_SQL.format(table=table, school=school), params)
            pairs = cursor.fetchall()
    ordered = sorted(pairs, key=lambda pair: (class_sort_key(pair[0]), class_sort_key(pair[1])))
    return ClassVocabulary(pairs=tuple(ordered))
