"""The test suite (``pytest.ini``): never reads ``.env``, so a developer's file cannot change the tests.

PostgreSQL and Redis when ``DATABASE_URL`` / ``CELERY_BROKER_URL`` are set (``bin/test``, CI),
else SQLite and kombu's filesystem broker. Fast password hashing, Celery tasks run eagerly,
WeChat is a closed local port unless a test starts the fake WeChat (``conftest.py``), and
secrets that are only for tests.
"""

from .base import *  # noqa: F403
from .base import VAR_DIR, env, filesystem_broker_options

DEBUG = False
SECRET_KEY = "test-only-secret-key"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", CONN_MAX_AGE)  # noqa: F405

# Tests share one local-memory cache per process: cache-expiry tests move its clock, and parallel
# runs on one machine must not see each other's throttling counters or WeChat token locks.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CACHES["local"] = LOCAL_CACHE  # noqa: F405 (base.py)
SILENCED_SYSTEM_CHECKS = ["axes.W001"]  # the tests' one-process cache (see local.py)

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(CELERY_BROKER_URL)
# Tasks the code under test queues (a WeChat check after a report) run at once, in the test's
# thread; a failure is logged, as a worker would. portal/tests/test_celery.py runs a real worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WECHAT_APPID = "wx_test_appid"
WECHAT_SECRET = "wx_test_secret"
WECHAT_API_BASE_URL = "http://127.0.0.1:9"  # tests that talk to WeChat start a fake server
WECHAT_SANDBOX = False  # tests that need it turn it on (with DEBUG) through the settings fixture
WEBHOOK_ALLOW_HTTP = True  # the tests' receivers are local HTTP servers; the URL rules have their own tests
WEBHOOK_ALLOW_PRIVATE = True

WHITENOISE_USE_FINDERS = True
SECURE_SSL_REDIRECT = False
