"""The cached access-token lookup (``schools.selectors.api_access_token_get``): one cache round trip
instead of a query, none within API_TOKEN_LOCAL_SECONDS of this process's last, and never a stale
answer after a client, grant, school or token changes (other processes: within those seconds)."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache, caches
from django.utils import timezone

from schools import selectors
from schools.models import ApiAccessToken, ApiClient, ApiClientGrant
from schools.selectors import api_access_token_get
from schools.services.api_clients import api_access_token_issue, api_client_set_schools
from schools.tests.factories import ApiClientFactory, SchoolFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued():
    school = SchoolFactory()
    client = ApiClientFactory(schools=[school])
    token, _expires_at = api_access_token_issue(client=client)
    return client, school, token


def test_a_known_token_is_read_from_the_cache_after_the_first_lookup(issued, django_assert_num_queries):
    client, school, token = issued
    with django_assert_num_queries(2):  # the token with its client, the client's active schools
        first = api_access_token_get(token=token)
    with django_assert_num_queries(0):
        again = api_access_token_get(token=token)

    assert (again.pk, again.client.pk, again.client.appid, again.expires_at) == (
        first.pk,
        client.pk,
        client.appid,
        first.expires_at,
    )
    assert again.client.school_ids() == first.client.school_ids() == [school.pk]


def test_an_unknown_token_is_not_cached(issued, django_assert_num_queries):
    assert api_access_token_get(token="not-a-token") is None
    with django_assert_num_queries(1):
        assert api_access_token_get(token="not-a-token") is None


def test_a_deactivated_client_is_not_served_from_the_cache(issued):
    client, _school, token = issued
    assert api_access_token_get(token=token) is not None

    client.is_active = False
    client.save()

    assert api_access_token_get(token=token) is None


def test_a_withdrawn_grant_is_not_served_from_the_cache(issued):
    client, school, token = issued
    assert api_access_token_get(token=token) is not None

    api_client_set_schools(client=client, school_ids=[])

    assert not ApiClientGrant.objects.filter(client=client).exists()
    assert api_access_token_get(token=token) is None


def test_a_deactivated_school_is_not_served_from_the_cache(issued):
    _client, school, token = issued
    assert api_access_token_get(token=token) is not None

    school.is_active = False
    school.save()

    assert api_access_token_get(token=token) is None


def test_a_new_token_shortens_the_cached_old_one(issued):
    client, _school, old = issued
    assert api_access_token_get(token=old).expires_at > timezone.now() + timedelta(hours=1)

    api_access_token_issue(client=client)

    assert api_access_token_get(token=old).expires_at <= timezone.now() + timedelta(minutes=5)


def test_an_entry_never_outlives_its_token(issued, monkeypatch):
    client, _school, _token = issued
    soon = timezone.now() + timedelta(seconds=20)
    _row, raw = ApiAccessToken.issue(client=client, expires_at=soon)
    timeouts = []
    real_set = cache.set
    monkeypatch.setattr(
        cache, "set", lambda key, value, timeout=None: (timeouts.append((key, timeout)), real_set(key, value, timeout))
    )

    api_access_token_get(token=raw)

    (entry_timeout,) = [
        timeout for key, timeout in timeouts if key.startswith("api-access-token:") and "version" not in key
    ]
    assert 0 < entry_timeout <= 20


def test_a_change_drops_the_cache_again_once_it_commits(issued, django_capture_on_commit_callbacks):
    """A request that read the old rows before the change committed cannot keep them cached."""
    client, _school, token = issued
    with django_capture_on_commit_callbacks() as callbacks:
        client.name = "renamed"
        client.save()
        api_access_token_get(token=token)  # the row as this transaction sees it, cached meanwhile

    assert selectors.api_access_token_cache_clear in callbacks
    stale_version = cache.get(selectors.API_TOKEN_CACHE_VERSION_KEY)
    for callback in callbacks:
        callback()
    assert cache.get(selectors.API_TOKEN_CACHE_VERSION_KEY) != stale_version


@pytest.fixture
def shared_round_trips(monkeypatch):
    calls = []
    real = cache.get_many
    monkeypatch.setattr(cache, "get_many", lambda keys: (calls.append(keys), real(keys))[1])
    return calls


def test_a_validated_lookup_needs_no_round_trip_in_this_process(issued, shared_round_trips, django_assert_num_queries):
    client, _school, token = issued
    api_access_token_get(token=token)
    caches["local"].clear()  # as another process of the same deployment would start
    api_access_token_get(token=token)
    assert len(shared_round_trips) == 2  # the first lookup; the shared cache's answer

    with django_assert_num_queries(0):
        again = api_access_token_get(token=token)

    assert len(shared_round_trips) == 2 and again.client.pk == client.pk


def test_another_processs_change_reaches_this_one_within_the_local_seconds(issued, monkeypatch, settings):
    client, _school, token = issued
    assert api_access_token_get(token=token) is not None
    # What another process's deactivation leaves here: the rows changed, the shared version bumped,
    # this process's copy untouched.
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)
    cache.incr(selectors.API_TOKEN_CACHE_VERSION_KEY)

    assert api_access_token_get(token=token) is not None  # the bounded delay, by design
    later = time.time() + settings.API_TOKEN_LOCAL_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert api_access_token_get(token=token) is None


def test_no_local_copy_when_the_local_seconds_are_zero(issued, shared_round_trips, settings):
    settings.API_TOKEN_LOCAL_SECONDS = 0
    _client, _school, token = issued
    for _ in range(3):
        assert api_access_token_get(token=token) is not None
    assert len(shared_round_trips) == 3
