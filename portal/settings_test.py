"""Test settings: fast password hashing, no throttling surprises, secrets that are only for tests."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ["PORTAL_READ_DOT_ENV"] = "0"  # a developer's .env (DEBUG=1, sandbox) must not change the tests

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WECHAT_APPID = "wx_test_appid"
WECHAT_SECRET = "wx_test_secret"
WECHAT_API_BASE_URL = "http://127.0.0.1:9"  # tests that talk to WeChat start a fake server
# Tasks the code under test queues (a WeChat check after a report) run at once, in the test's
# thread; a failure is logged, as a worker would. portal/tests/test_celery.py runs a real worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
SECURE_SSL_REDIRECT = False
WHITENOISE_USE_FINDERS = True
# Tests share one local-memory cache per process: cache-expiry tests move its clock, and parallel
# runs on one machine must not see each other's throttling counters or WeChat token locks.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = ["axes.W001"]  # the tests' one-process cache (see settings.py)
