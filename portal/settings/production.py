"""A deployment: the default of ``wsgi.py``, ``asgi.py`` and ``celery.py``.

Never reads a ``.env`` file: only the process environment. DEBUG and the WeChat sandbox are off
as constants, whatever the environment says, so the sandbox login (``sandbox:<openid>``) cannot
be turned on here. Refuses to start (ImproperlyConfigured) without ``SECRET_KEY``,
``DATABASE_URL``, ``CELERY_BROKER_URL`` (a broker the worker shares: not kombu's filesystem or
memory transport) and ``CACHE_URL`` (a cache every process shares: Redis or memcached), so
nothing falls back to a development default. HTTPS only: secure cookies, HSTS, redirect to
https; behind a TLS-terminating proxy set ``SECURE_PROXY_SSL_HEADER`` (opt-in: the proxy must
set or strip that header). ``manage.py check --deploy`` reports no issue with these settings.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

REQUIRED = ("SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")
_missing = [name for name in REQUIRED if not os.environ.get(name, "").strip()]
if _missing:
    raise ImproperlyConfigured(
        "portal.settings.production needs %s in the environment (it never reads .env); missing: %s."
        % (", ".join(REQUIRED), ", ".join(_missing))
    )

DEBUG = False  # not read from the environment
WECHAT_SANDBOX = False  # not read from the environment: no "sandbox:<openid>" login in production

SECRET_KEY = env("SECRET_KEY")

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections: a request does not open one (and set its time zone) per request; measured
# in bench/hot_paths.py. CONN_MAX_AGE=0 in the environment turns them off (e.g. behind PgBouncer in
# transaction mode, which pools instead).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=600))
# A kept connection that PostgreSQL dropped (a restart) is replaced before a request uses it, at the
# price of one more round trip (SELECT 1) per request. The web processes turn it off
# (deploy/gunicorn.conf.py): on a device request that round trip cost as much as its own query
# (bench/hot_paths.py); a dropped connection then fails one request per process with 503 and
# Retry-After, and is replaced (portal/tests/faults/test_database_restart.py). Workers keep it.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=True))

CELERY_BROKER_URL = env("CELERY_BROKER_URL")
if CELERY_BROKER_URL.split(":", 1)[0].lower() in {"filesystem", "memory"}:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL must be a broker the worker and beat share (e.g. redis://…), not {CELERY_BROKER_URL}."
    )

# Login throttling, claim-code attempts, django-axes lock-outs and WeChat token locks are
# counted in the cache: every process must see the same counts.
SHARED_CACHE_BACKENDS = {
    "django.core.cache.backends.redis.RedisCache",
    "django_redis.cache.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
}
CACHES = {"default": env.cache("CACHE_URL")}
CACHES["local"] = LOCAL_CACHE  # noqa: F405 (base.py)
if CACHES["default"]["BACKEND"] not in SHARED_CACHE_BACKENDS:
    raise ImproperlyConfigured(
        "CACHE_URL must be a cache every process shares (rediscache://… or pymemcache://…), "
        f"not {CACHES['default']['BACKEND']}."
    )
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Redis down: answer from each process's memory rather than fail every request (core.cache).
    CACHES["default"]["BACKEND"] = "core.cache.ResilientRedisCache"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False  # serves what collectstatic gathered

# --- HTTPS ----------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Opt-in, e.g. SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https: only behind a proxy that
# sets (or strips) that header on every request, else a client could claim https itself.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2:
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER is a header and its value, e.g. HTTP_X_FORWARDED_PROTO,https."
        )
    SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)  # a year, as HSTS preload lists ask
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# HTTP probes from inside the deployment (load balancer, orchestrator) speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/"]

# --- Logs and errors ------------------------------------------------------------------------
# One JSON object per line on stderr (core.logging); LOG_FORMAT=console for text.
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # noqa: F405

# Optional error reporting: set SENTRY_DSN (and SENTRY_ENVIRONMENT); nothing is sent without it.
# Requests' bodies, cookies, headers and query values never leave (core.sentry.before_send).
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from core.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
