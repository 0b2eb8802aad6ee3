"""``core.cache.ResilientRedisCache``: the production cache keeps answering while Redis is down (issue 10 §3).

Here Redis is a closed local port, or Django's Redis client made to fail and recover; a real
Redis stopped under the running portal (production settings, which use this backend for a Redis
``CACHE_URL``) is ``portal/tests/faults/test_redis_outage.py``.
"""

import logging

import pytest
from django.core.cache.backends import locmem
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError

from core import cache as resilient
from core.cache import ResilientRedisCache

CLOSED = "redis://127.0.0.1:9/1"  # nothing listens on the discard port


@pytest.fixture(autouse=True)
def _forget_outages(monkeypatch):
    monkeypatch.setattr(resilient, "_down_until", {})
    for name in [name for name in locmem._caches if name.startswith("resilient-redis-fallback:")]:
        locmem._caches[name].clear()


def make(location=CLOSED, **params) -> ResilientRedisCache:
    return ResilientRedisCache(location, {"KEY_PREFIX": "t", **params})


def test_with_redis_unreachable_the_cache_counts_in_the_processs_memory(caplog):
    cache = make()
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        assert cache.get("missing") is None
        assert cache.add("attempts", 0, timeout=60) is True
        assert cache.add("attempts", 0, timeout=60) is False
        assert [cache.incr("attempts") for _ in range(3)] == [1, 2, 3]
        cache.set("token", "abc", timeout=60)
        assert cache.get_many(["token", "attempts"]) == {"token": "abc", "attempts": 3}
        assert cache.delete("token") is True and not cache.has_key("token")
        with pytest.raises(ValueError):
            cache.incr("never-set")  # the same contract as Redis's

    assert cache.redis_down
    outage = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage) == 1, outage  # logged once per outage, not per call
    assert outage[0].startswith(f"cache {CLOSED} unreachable (ConnectionError")


def test_every_cache_object_of_the_process_shares_the_fallback_and_the_outage():
    """Django makes a cache object per thread: they count together, and one failure spares the others' attempts."""
    one, other = make(), make()
    one.set("k", 1, timeout=60)
    assert other.redis_down
    assert other.get("k") == 1


def test_during_an_outage_redis_is_tried_again_only_after_retry_seconds(monkeypatch):
    calls = []

    def unreachable(self, key, default=None, version=None):
        calls.append(key)
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(RedisCache, "get", unreachable)
    clock = [1000.0]
    monkeypatch.setattr(resilient.time, "monotonic", lambda: clock[0])
    cache = make("redis://127.0.0.1:6379/1")

    assert cache.get("a") is None and cache.get("b") is None
    assert calls == ["a"]  # the second call went straight to memory
    clock[0] += resilient.RETRY_SECONDS + 0.1
    cache.get("c")
    assert calls == ["a", "c"]


def test_when_redis_answers_again_the_cache_uses_it_and_says_so(monkeypatch, caplog):
    state = {"up": False}
    stored = {}

    def get(self, key, default=None, version=None):
        if not state["up"]:
            raise RedisConnectionError("Connection refused")
        return stored.get(key, default)

    monkeypatch.setattr(RedisCache, "get", get)
    clock = [1000.0]
    monkeypatch.setattr(resilient.time, "monotonic", lambda: clock[0])
    cache = make("redis://127.0.0.1:6379/1")
    cache.get("x")
    assert cache.redis_down

    state["up"], stored["x"] = True, "from redis"
    clock[0] += resilient.RETRY_SECONDS + 0.1
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        assert cache.get("x") == "from redis"
    assert not cache.redis_down
    assert "answers again" in caplog.text


def test_connection_timeouts_are_set_unless_given():
    assert make()._options["socket_connect_timeout"] == resilient.SOCKET_TIMEOUT
    assert make(OPTIONS={"socket_timeout": 3})._options["socket_timeout"] == 3
