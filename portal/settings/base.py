"""Settings every environment shares, read from the process environment only (django-environ).

Never reads a ``.env`` file (``portal.settings.local`` does, before importing this) and sets no
database, broker, cache or secret key: each environment's module chooses those, so nothing falls
back silently to a development default in production. DEBUG and the WeChat sandbox are off here.
"""

import logging
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _
from kombu import Queue

from core.logging import formatters as log_formatters
from core.logging import structlog_configure

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",  # django.contrib.admin with portal.admin_site.PortalAdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # OpClass in index expressions (schools migration 0015); nothing on SQLite
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "import_export",
    "axes",  # admin login lock-out
    "health_check",  # /health/ready (core.health)
    "django_structlog",  # a request id per request, into the Celery tasks it sends (core.logging)
    "schools",
    "contacts",
    "calls",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_structlog.middlewares.RequestMiddleware",  # binds request_id; X-Request-ID (core.logging)
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (CONTENT_SECURITY_POLICY below)
    "core.middleware.RequestBodyLimitMiddleware",  # before anything reads a body
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

# --- Staff logins ---------------------------------------------------------------------------
# django-axes locks a username from an address after AXES_FAILURE_LIMIT wrong passwords, for
# AXES_COOLOFF_TIME, counted in the shared cache; the portal's own client address (core.net).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.net.client_ip"
AXES_ENABLE_ADMIN = False  # nothing to show: attempts live in the cache
SESSION_COOKIE_AGE = env.int("STAFF_SESSION_HOURS", default=8) * 3600  # seconds; Django's default is 14 days

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",  # templates' inline blocks: request.csp_nonce
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CONN_MAX_AGE = env.int("CONN_MAX_AGE", default=0)  # applied to DATABASES["default"] by each environment

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]  # portal is not an app: its assets (dashboard, vendored Chart.js)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_ROOT = BASE_DIR / "portal" / "root"  # served at /: favicon.ico (browsers ask for it there)
WHITENOISE_USE_FINDERS = False  # production serves what collectstatic gathered; local and test use the finders

# Error pages and CSRF failures under /api/, /cgi-bin/ and /wxa/ answer JSON in the API's error
# shape (core.error_views; handler400/403/404/500 in portal.urls).
CSRF_FAILURE_VIEW = "core.error_views.csrf_failure"

# --- Content security policy (django-csp) ---------------------------------------------------
# Everything is served by the portal itself (admin, Chart.js, Swagger UI from drf-spectacular-
# sidecar, through WhiteNoise). Inline <script>/<style> blocks carry the request's nonce
# ({{ request.csp_nonce }}); style="" attributes stay allowed (the admin's and
# django-import-export's templates use a few; they cannot run code). The one inline event
# handler left is django-import-export's "select all" checkbox on its export form
# (onchange="onSelectToggleChange(event)"), allowed by its hash alone. Images: the letters'
# mini-program codes are data:image/png URLs.
IMPORT_EXPORT_SELECT_ALL_HANDLER = "'sha256-wid4zL8fR53ZYy1ljOepzR77Dn6vWUUxuNnnWWBP3I8='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, UNSAFE_HASHES, IMPORT_EXPORT_SELECT_ALL_HANDLER],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# Proxies in front of the portal that append to X-Forwarded-For (core.net.client_ip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["contacts.authentication.ParentTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["contacts.permissions.IsParent"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.PortalAutoSchema",  # error answers of every operation
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    # Abuse limits by scope (core.throttling), counted in the shared cache. "<scope>_address" is per
    # client address, "_appid" per vendor appid, "_device" per API client and device.
    "DEFAULT_THROTTLE_RATES": {
        "login": env("LOGIN_THROTTLE_RATE", default="30/minute"),  # per address (no one is logged in)
        "bind": env("BIND_THROTTLE_RATE", default="30/minute"),  # per parent: bind, share links, scenes
        "bind_address": env("BIND_ADDRESS_THROTTLE_RATE", default="120/minute"),
        "token_appid": env("TOKEN_APPID_THROTTLE_RATE", default="60/hour"),  # /cgi-bin/token
        "token_address": env("TOKEN_ADDRESS_THROTTLE_RATE", default="30/minute"),
        "device_check_device": env("DEVICE_CHECK_THROTTLE_RATE", default="120/minute"),  # check and call plan
    },
    # The client address of every throttle: REMOTE_ADDR, or behind proxies the one they saw.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "School VoIP portal API",
    "DESCRIPTION": (
        "REST API of the parents' mini-program (/api/v1/) and the WeChat-compatible "
        "server-to-server API for device vendors (/cgi-bin/, /wxa/)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would load an image from validator.swagger.io (and the CSP refuses it).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- WeChat ---------------------------------------------------------------------------------
WECHAT_API_BASE_URL = env("WECHAT_API_BASE_URL", default="https://api.weixin.qq.com")
WECHAT_APPID = env("WECHAT_APPID", default="")
WECHAT_SECRET = env("WECHAT_SECRET", default="")
WECHAT_TIMEOUT = env.float("WECHAT_TIMEOUT", default=5.0)  # seconds per HTTP request
# Local development without WeChat: the portal plays WeChat's part. Login codes "sandbox:<openid>"
# are accepted, bindings, deletions and transfers take effect at once, device groups are kept
# here only, and mini-program codes are drawn locally. Off here; only portal.settings.local
# (with DEBUG) turns it on, and the login also checks DEBUG (contacts.services.parents).
WECHAT_SANDBOX = False

# Keeping contacts in step with WeChat (contacts.services.reconciliation).
WECHAT_RECONCILE_DEBOUNCE_SECONDS = env.int("WECHAT_RECONCILE_DEBOUNCE_SECONDS", default=10)
WECHAT_RECONCILE_PERIOD_HOURS = env.int("WECHAT_RECONCILE_PERIOD_HOURS", default=24)
WECHAT_RECONCILE_MAX_PER_MINUTE = env.int("WECHAT_RECONCILE_MAX_PER_MINUTE", default=120)
BINDING_PENDING_MINUTES = env.int("BINDING_PENDING_MINUTES", default=30)  # an allowed binding WeChat never made

# --- Events to the schools' and vendors' systems (schools.services.events) -------------------
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)  # seconds per POST
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)  # then the delivery is dead
WEBHOOK_BACKOFF_SECONDS = env.int("WEBHOOK_BACKOFF_SECONDS", default=30)  # doubled each attempt, full jitter
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=3600)
WEBHOOK_SIGNATURE_TOLERANCE = 300  # seconds: how old a signature a receiver accepts (replay window)
WEBHOOK_SWEEP_GRACE_SECONDS = 60  # a due delivery not sent this long is queued again by the sweeper
WEBHOOK_SWEEP_BATCH = 1000  # deliveries the sweeper queues per run
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)  # local development: http:// receivers
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)  # receivers on private addresses

# --- Portal ---------------------------------------------------------------------------------
PARENT_TOKEN_TTL = timedelta(days=env.int("PARENT_TOKEN_TTL_DAYS", default=7))
API_ACCESS_TOKEN_TTL = timedelta(seconds=7200)  # REFERENCE.md §5: expires_in 7200
API_ACCESS_TOKEN_OVERLAP = timedelta(seconds=300)  # earlier tokens stay valid this long after a new one
# A process keeps an access-token lookup this long in its own memory (the "local" cache), so a
# device request makes no cache round trip; a change made by another process (a client or school
# deactivated, a grant withdrawn) reaches this one within these seconds (schools.selectors). 0: off.
API_TOKEN_LOCAL_SECONDS = env.int("API_TOKEN_LOCAL_SECONDS", default=5)
# Each process's own memory, for copies that may be a few seconds stale (API_TOKEN_LOCAL_SECONDS).
LOCAL_CACHE = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "process-local",
    "OPTIONS": {"MAX_ENTRIES": 10_000},
}
# Request bodies (core.middleware): JSON APIs, and everything else (the admin's roster uploads).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=256 * 1024)
UPLOAD_MAX_BODY_BYTES = env.int("UPLOAD_MAX_BODY_BYTES", default=20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BODY_BYTES
# The mini-program page that opens a share link; the token is appended as ?token=.
SHARE_LINK_PAGE_PATH = env("SHARE_LINK_PAGE_PATH", default="/pages/bind-contact/index")
# Links the expiry sweep marks per transaction (contacts.services.share_links.share_links_expire):
# a revocation or admin transfer waits at most one batch behind it. bench/sweep.py, 1,000,000 links:
# with 500, the longest revocation took 81-117 ms (its own work included) and the sweep 1.2-1.3x
# the time of one UPDATE of every expired link; smaller batches wait less and cost more.
SHARE_LINK_EXPIRY_BATCH = env.int("SHARE_LINK_EXPIRY_BATCH", default=500)
# The mini-program page where a parent enters a claim code: the letters' mini-program codes open it
# with the student's scene (contacts.services.mini_program_codes).
ADMIN_BIND_PAGE_PATH = env("ADMIN_BIND_PAGE_PATH", default="/pages/bind-admin/index")
# Wrong claim codes per student: after this many within the window, 429 until the window ends.
CLAIM_CODE_MAX_ATTEMPTS = env.int("CLAIM_CODE_MAX_ATTEMPTS", default=5)
CLAIM_CODE_WINDOW = timedelta(minutes=env.int("CLAIM_CODE_WINDOW_MINUTES", default=15))

# --- Roster import and export (django-import-export, schools/resources.py) -----------------
IMPORT_EXPORT_USE_TRANSACTIONS = True  # a file imports as one transaction, or not at all
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True  # no =HYPERLINK(...) reaches a spreadsheet as a formula
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"  # plus add (and not a read-only viewer): RosterImportExportMixin
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
# Files with more data rows than this import in the background (schools.ImportJob, Celery).
IMPORT_ASYNC_ROW_THRESHOLD = env.int("IMPORT_ASYNC_ROW_THRESHOLD", default=2000)
IMPORT_JOB_CHUNK_SIZE = env.int("IMPORT_JOB_CHUNK_SIZE", default=1000)  # rows between two progress updates
# On PostgreSQL, a job of a kind with a COPY importer (students) streams its file into a staging
# table and merges it in SQL (schools.roster.copy); 0: every job goes through its resource.
IMPORT_JOB_COPY = env.bool("IMPORT_JOB_COPY", default=True)
# A running job's worker sets its heartbeat this often (seconds); a job whose heartbeat is older than
# IMPORT_JOB_STALE_SECONDS lost its worker and runs again, at most IMPORT_JOB_MAX_ATTEMPTS times in all
# (schools.roster.runner.import_jobs_recover, beat).
IMPORT_JOB_HEARTBEAT_SECONDS = env.float("IMPORT_JOB_HEARTBEAT_SECONDS", default=10)
IMPORT_JOB_STALE_SECONDS = env.float("IMPORT_JOB_STALE_SECONDS", default=60)
IMPORT_JOB_MAX_ATTEMPTS = env.int("IMPORT_JOB_MAX_ATTEMPTS", default=3)

# --- Celery (CELERY_BROKER_URL: each environment) ----------------------------------------------
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a message is acknowledged after its task ran: a killed worker's is sent again
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # … also when the pool's child process died mid-task
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "expire-share-links": {
        "task": "contacts.tasks.expire_share_links",
        "schedule": crontab(minute="*"),
    },
    "purge-expired-tokens": {
        "task": "contacts.tasks.purge_expired_tokens",
        "schedule": crontab(minute=17),
    },
    "reconcile-bindings": {
        "task": "contacts.tasks.reconcile_bindings_due",
        "schedule": crontab(minute="*"),
    },
    "purge-expired-api-tokens": {
        "task": "schools.tasks.purge_expired_api_tokens",
        "schedule": crontab(minute=19),
    },
    "reconcile-device-groups": {  # WeChat's group membership, once a day at a quiet hour (CELERY_TIMEZONE)
        "task": "schools.tasks.reconcile_device_groups",
        "schedule": crontab(hour=3, minute=30),
    },
    "sweep-outbox": {  # events whose delivery message was lost, or never sent while the broker was down
        "task": "schools.tasks.sweep_outbox",
        "schedule": crontab(minute="*"),
    },
    "recover-import-jobs": {  # roster import jobs whose worker died (stale heartbeat) or whose message was lost
        "task": "schools.tasks.recover_import_jobs",
        "schedule": crontab(minute="*"),
    },
    "check-invariants": {  # every invariant over the whole database, reported in the admin (calls.tasks)
        "task": "calls.tasks.check_invariants",
        "schedule": crontab(hour=4, minute=0),
    },
}

# Queues by kind of work (docs/deploy.md): a 100,000-row import or a reconciliation backlog never
# delays a webhook delivery or link expiry. Every task is routed here (portal/tests/test_operations.py
# checks it); a worker started without -Q consumes every queue (make run, small deployments), a
# larger one runs a worker per queue group (compose.yaml).
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue(name) for name in ("default", "deliveries", "reconciliation", "imports", "sweeps")]
CELERY_TASK_ROUTES = {
    "schools.tasks.deliver_webhook": {"queue": "deliveries"},
    "schools.tasks.sweep_outbox": {"queue": "deliveries"},
    "contacts.tasks.reconcile_student_bindings": {"queue": "reconciliation"},
    "contacts.tasks.reconcile_bindings_due": {"queue": "reconciliation"},
    "schools.tasks.reconcile_device_groups": {"queue": "reconciliation"},
    "calls.tasks.check_invariants": {"queue": "reconciliation"},
    "schools.tasks.run_import_job": {"queue": "imports"},
    "schools.tasks.recover_import_jobs": {"queue": "imports"},
    "contacts.tasks.expire_share_links": {"queue": "sweeps"},
    "contacts.tasks.purge_expired_tokens": {"queue": "sweeps"},
    "schools.tasks.purge_expired_api_tokens": {"queue": "sweeps"},
}


def filesystem_broker_options(broker_url: str) -> dict:
    """kombu's filesystem transport options (folders under ``var/``) for a ``filesystem://`` broker, else ``{}``."""
    if not broker_url.startswith("filesystem://"):
        return {}
    broker_dir = VAR_DIR / "celery-broker"
    for sub in ("out", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker_dir / "out"),
        "data_folder_out": str(broker_dir / "out"),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
    }


# --- Logging --------------------------------------------------------------------------------
# Everything goes to stderr as structured events (core.logging): LOG_FORMAT=json (production's
# default) prints one JSON object per line, "console" aligned text. Each line of a request carries
# its request_id, answered as X-Request-ID and carried into the Celery tasks the request sends
# (django-structlog). Secrets in URLs (the vendors' secret, access_token, token and code query
# values, share-link tokens in paths) are redacted by core.logging.RedactSecretsFilter: on the
# handlers, and on the django.request and django.server loggers themselves, so that every handler
# downstream (pytest's caplog too) sees the redacted record; structlog's events by
# core.logging.redact_event_dict. The "django" logger's own handlers (Django's DEBUG-only console,
# mail_admins: the portal sets no ADMINS) are replaced by propagation to the root handler.
structlog_configure()
LOG_FORMAT = env("LOG_FORMAT", default="console")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "core.logging.RedactSecretsFilter"}},
    "formatters": {
        **log_formatters(),
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact_secrets"]},
        # runserver's access log (Django's own handler, with the filter)
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.request": {"filters": ["redact_secrets"]},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
# django-structlog: one "request_finished" line per request (method, path, status, request_id);
# "request_started" only at DEBUG (the hot paths log one line, not two). An upstream X-Request-ID
# is kept only behind a proxy that sets it (TRUST_UPSTREAM_REQUEST_ID=1); otherwise each request gets
# a new uuid4. No client address or user id in the lines (core.net decides addresses; privacy).
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = env.bool("TRUST_UPSTREAM_REQUEST_ID", default=False)
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
DJANGO_STRUCTLOG_USER_ID_FIELD = None
DJANGO_STRUCTLOG_CELERY_ENABLED = True
