"""The settings modules (issue 9 §3): production cannot be fooled by a .env or the environment.

Each test imports settings in a fresh interpreter, in a copy of the project whose ``.env`` holds
everything production needs plus ``DEBUG=1`` and ``WECHAT_SANDBOX=1`` (as an old ``make run``
wrote): production must ignore that file whole (and refuse to start without its own environment),
while the local settings read it. ``manage.py check --deploy`` passes with production settings.
"""

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from celery import signals

from core.logging import RedactSecretsFilter

BASE_DIR = Path(__file__).resolve().parents[2]

# A realistic production environment (nothing is contacted: settings only name the servers).
PRODUCTION_ENV = {
    "SECRET_KEY": "k3Vq9-production-secret-key-for-tests-only-7fX2pL0aZ8mN4bR6tY1wC5eH",
    "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CACHE_URL": "rediscache://127.0.0.1:6379/1",
    "ALLOWED_HOSTS": "portal.school.example.cn",
}
DOT_ENV = """\
DEBUG=1
WECHAT_SANDBOX=1
SECRET_KEY=from-dot-env
DATABASE_URL=sqlite:///dot-env.sqlite3
CELERY_BROKER_URL=redis://127.0.0.1:6379/0
CACHE_URL=rediscache://127.0.0.1:6379/1
WECHAT_APPID=wx_from_dot_env
"""
# What the settings under test may read; the test run's own values are left out.
CLEARED = {
    "DJANGO_SETTINGS_MODULE",
    "DEBUG",
    "WECHAT_SANDBOX",
    "WECHAT_APPID",
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "ALLOWED_HOSTS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests' Playwright fixture
    "CONN_MAX_AGE",
    "CONN_HEALTH_CHECKS",
    "LOG_FORMAT",
    "SENTRY_DSN",
}
SHOW = (
    "from django.conf import settings; "
    "print(settings.SETTINGS_MODULE, settings.DEBUG, settings.WECHAT_SANDBOX, repr(settings.WECHAT_APPID), "
    "settings.DATABASES['default']['ENGINE'], getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project (its ``portal`` package and ``manage.py``; the apps linked) with a ``.env``."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(BASE_DIR / "portal", root / "portal", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    shutil.copy(BASE_DIR / "manage.py", root / "manage.py")
    for name in ("core", "schools", "contacts", "calls", "templates", "locale"):
        (root / name).symlink_to(BASE_DIR / name)
    (root / ".env").write_text(DOT_ENV)
    return root


def run(project: Path, args: list[str], module: str | None, **env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    if module:
        env["DJANGO_SETTINGS_MODULE"] = module
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def show(project, module, **env_vars):
    return run(project, ["-c", f"import django; django.setup(); {SHOW}"], module, **env_vars)


def test_production_ignores_the_dot_env_and_the_environment_for_debug_and_the_sandbox(project):
    result = show(project, "portal.settings.production", DEBUG="1", WECHAT_SANDBOX="1", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    module, debug, sandbox, appid, engine, _proxy = result.stdout.split()
    assert (module, debug, sandbox) == ("portal.settings.production", "False", "False")
    assert appid == "''"  # WECHAT_APPID of the .env was not read
    assert engine == "django.db.backends.postgresql"


def test_local_settings_read_the_dot_env(project):
    """The same copy with local settings: the .env is there and would have had an effect."""
    result = show(project, "portal.settings.local")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:5] == [
        "portal.settings.local",
        "True",
        "True",
        "'wx_from_dot_env'",
        "django.db.backends.sqlite3",
    ]


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"])
def test_production_refuses_to_start_without_each_required_variable(project, missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}  # the .env has it: it must not count

    result = show(project, "portal.settings.production", **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"missing: {missing}." in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CACHE_URL", "locmemcache://"),
        ("CACHE_URL", "dummycache://"),
        ("CACHE_URL", "filecache:///tmp/portal-cache"),
        ("CELERY_BROKER_URL", "filesystem://"),
        ("CELERY_BROKER_URL", "memory://"),
    ],
)
def test_production_refuses_a_cache_or_broker_that_processes_do_not_share(project, variable, value):
    result = show(project, "portal.settings.production", **{**PRODUCTION_ENV, variable: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and variable in result.stderr


def test_production_trusts_a_proxys_https_header_only_when_told(project):
    assert show(project, "portal.settings.production", **PRODUCTION_ENV).stdout.split()[-1] == "None"

    told = show(
        project, "portal.settings.production", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https", **PRODUCTION_ENV
    )
    assert told.returncode == 0, told.stderr
    assert told.stdout.rstrip().endswith("('HTTP_X_FORWARDED_PROTO', 'https')")


def test_production_passes_check_deploy_without_a_warning(project):
    result = run(
        project,
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        "portal.settings.production",
        **PRODUCTION_ENV,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("entry_point", ["portal.wsgi", "portal.asgi", "portal.celery"])
def test_wsgi_asgi_and_celery_default_to_production_settings(project, entry_point):
    code = f"import {entry_point}; import django; django.setup(); {SHOW}"

    result = run(project, ["-c", code], None, **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["portal.settings.production", "False", "False"]

    refused = run(project, ["-c", code], None)  # the .env alone is not enough
    assert refused.returncode != 0 and "ImproperlyConfigured" in refused.stderr


def test_manage_py_defaults_to_local_settings(project):
    result = run(project, ["manage.py", "shell", "--no-imports", "-c", SHOW], None)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["portal.settings.local", "True", "True"]


def test_a_celery_worker_logs_through_the_portals_logging_settings():
    """Celery sets up no logging of its own once setup_logging has a receiver: portal.celery's applies
    LOGGING, so a worker's lines are structured and redacted like the web's (core.logging)."""
    assert signals.setup_logging.receivers, "portal.celery connects a setup_logging receiver"
    root = logging.getLogger()
    saved = root.handlers[:]
    try:
        root.handlers = []
        signals.setup_logging.send(sender=None, loglevel=logging.INFO, logfile=None, format="", colorize=False)
        (handler,) = root.handlers
        assert [type(f) for f in handler.filters] == [RedactSecretsFilter]
        assert isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    finally:
        root.handlers = saved


def test_production_keeps_connections_logs_json_and_exempts_the_probes_from_the_https_redirect(project):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['CONN_MAX_AGE'], settings.DATABASES['default']['CONN_HEALTH_CHECKS'], "
        "settings.LOGGING['handlers']['console']['formatter'], settings.SECURE_REDIRECT_EXEMPT)"
    )
    result = run(project, ["-c", code], "portal.settings.production", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split(maxsplit=3) == ["600", "True", "json", "['^health/']\n"]
