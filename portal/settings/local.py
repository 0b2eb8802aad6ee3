"""A developer's machine: ``manage.py``'s default and ``make run`` (``bin/run``).

Reads the developer's ``.env`` (written by ``make run``, never committed) into the environment
first; variables already in the environment win. Then the local defaults, each overridable by
the environment: DEBUG on, SQLite (``var/portal.sqlite3``), kombu's filesystem broker
(``var/celery-broker/``), a local-memory cache, and the WeChat sandbox. Never used in production
(``portal.settings.production``).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

DOT_ENV = Path(__file__).resolve().parents[2] / ".env"
if DOT_ENV.is_file():
    environ.Env.read_env(DOT_ENV)

from .base import *  # noqa: E402, F403
from .base import VAR_DIR, env, filesystem_broker_options  # noqa: E402

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-never-used-in-production")

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", CONN_MAX_AGE)  # noqa: F405

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
CACHES["local"] = LOCAL_CACHE  # noqa: F405 (base.py)
if CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    # One process's memory: django-axes warns that a lock-out is not shared between processes;
    # production requires a shared cache (CACHE_URL).
    SILENCED_SYSTEM_CHECKS = ["axes.W001"]

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(CELERY_BROKER_URL)

WHITENOISE_USE_FINDERS = True  # runserver serves the apps' static files without collectstatic

# The portal plays WeChat (see base.py); on by default here, WECHAT_SANDBOX=0 to talk to WeChat.
WECHAT_SANDBOX = env.bool("WECHAT_SANDBOX", default=True)
# A developer's receiver on this machine (e.g. http://127.0.0.1:9000/hook) may get the events.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=True)
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=True)
if WECHAT_SANDBOX and not DEBUG:
    raise ImproperlyConfigured("WECHAT_SANDBOX may only be enabled together with DEBUG.")
