"""The shared cache (Redis in production), made to outlive a Redis outage (issue 10 §3).

Throttling (``core.throttling``), claim-code attempts, django-axes lock-outs, the WeChat
``access_token`` and the debounce of WeChat checks all count in the cache. ``ResilientRedisCache``
is Django's ``RedisCache`` that, when Redis cannot be reached (connection refused, reset or timed
out), answers from a local-memory cache of the process instead of raising: binding and the device
API keep answering while Redis is down, with their limits counted per process (weaker, never
off). After a failure the process stops trying Redis for ``RETRY_SECONDS``, so an outage costs one
connection attempt per process every few seconds, not one per call; an outage is logged once when
it starts and once when Redis answers again. What the fallback counted is dropped then.

Connection and read timeouts default to ``SOCKET_TIMEOUT`` seconds (Django's backend has none): a
Redis that hangs rather than refuses fails over after that long.
"""

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0  # after a failure, Redis is tried again this long later
SOCKET_TIMEOUT = 1.0  # seconds to connect to Redis, and to wait for an answer
FALLBACK_MAX_ENTRIES = 10_000
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

_lock = threading.Lock()
_down_until: dict[str, float] = {}  # servers → monotonic time before which Redis is not tried


class ResilientRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with a per-process fallback (module docstring)."""

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT)
        options.setdefault("socket_timeout", SOCKET_TIMEOUT)
        super().__init__(server, {**params, "OPTIONS": options})
        self._name = ",".join(self._servers)
        self._fallback = LocMemCache(
            f"resilient-redis-fallback:{self._name}",
            {
                "TIMEOUT": params.get("TIMEOUT", 300),
                "KEY_PREFIX": params.get("KEY_PREFIX", ""),
                "VERSION": params.get("VERSION", 1),
                "KEY_FUNCTION": params.get("KEY_FUNCTION"),
                "OPTIONS": {"MAX_ENTRIES": FALLBACK_MAX_ENTRIES},
            },
        )

    @property
    def redis_down(self) -> bool:
        """Whether this process answers from its own memory for now (Redis failed under ``RETRY_SECONDS`` ago)."""
        return time.monotonic() < _down_until.get(self._name, 0.0)

    def _call(self, method: str, *args, **kwargs):
        if self.redis_down:
            return getattr(self._fallback, method)(*args, **kwargs)
        try:
            result = getattr(super(), method)(*args, **kwargs)
        except UNREACHABLE as exc:
            self._mark_down(exc)
            return getattr(self._fallback, method)(*args, **kwargs)
        if self._name in _down_until:
            with _lock:
                if _down_until.pop(self._name, None) is not None:
                    logger.warning("cache %s answers again; counting in Redis again", self._name)
        return result

    def _mark_down(self, exc: Exception) -> None:
        with _lock:
            first = self._name not in _down_until
            _down_until[self._name] = time.monotonic() + RETRY_SECONDS
        if first:
            logger.warning(
                "cache %s unreachable (%s: %s); this process counts in its own memory until it answers",
                self._name,
                type(exc).__name__,
                exc,
            )

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version)

    def clear(self):
        return self._call("clear")
