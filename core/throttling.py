"""Abuse limits of the APIs: DRF's rate throttles, counted in the shared cache (Redis in production).

Client addresses come from DRF's ``get_ident``: ``REMOTE_ADDR``, or with ``NUM_PROXIES`` (the
``TRUSTED_PROXY_COUNT`` setting) the address that many proxies from the right of
``X-Forwarded-For`` — never an address the client wrote itself. Rates are in
``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` by scope. An exceeded limit answers 429 with
``Retry-After`` (seconds); WeChat-compatible endpoints answer errcode 45009 (``core.exceptions``).
"""

import hashlib

from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle


class _KeyedThrottle(SimpleRateThrottle):
    """A throttle of the view's ``throttle_scope`` (suffixed ``_<key_name>``) keyed by ``key_for``;
    a request without the key is not counted here (another throttle of the view counts it)."""

    key_name = ""

    def get_rate(self):
        return None  # set in allow_request, once the view's scope is known

    def allow_request(self, request, view):
        self.scope = f"{getattr(view, 'throttle_scope', '')}_{self.key_name}"
        if self.scope not in self.THROTTLE_RATES:
            return True
        self.rate = self.THROTTLE_RATES[self.scope]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def key_for(self, request, view) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request, view):
        key = self.key_for(request, view)
        if not key:
            return None
        # Keys come from the request (an sn, an appid): hashed, any length or character is a valid
        # cache key (memcached refuses spaces and control characters) and no two share a counter.
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class AddressRateThrottle(_KeyedThrottle):
    """Per client address (scope ``<throttle_scope>_address``), whoever is logged in."""

    key_name = "address"

    def key_for(self, request, view):
        return self.get_ident(request)


class AppidRateThrottle(_KeyedThrottle):
    """Per ``appid`` query parameter (scope ``<throttle_scope>_appid``): ``/cgi-bin/token``."""

    key_name = "appid"

    def key_for(self, request, view):
        return request.query_params.get("appid", "")


class DeviceRateThrottle(_KeyedThrottle):
    """Per API client and device ``sn`` (scope ``<throttle_scope>_device``): a device's pre-call checks."""

    key_name = "device"

    def key_for(self, request, view):
        sn = request.data.get("sn") if isinstance(request.data, dict) else None
        sn = sn or request.query_params.get("sn")
        if not isinstance(sn, str) or request.user is None:
            return None
        return f"{request.user.pk}:{sn}"


__all__ = ["AddressRateThrottle", "AppidRateThrottle", "DeviceRateThrottle", "ScopedRateThrottle"]
