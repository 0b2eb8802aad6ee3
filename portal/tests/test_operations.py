"""Operations (issue 11 §3, §4): probes, structured logs with a request id, WeChat failures in the
log, every task on its queue, optional Sentry."""

import gzip
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import structlog
from django.conf import settings as django_settings
from structlog.testing import capture_logs

from core.logging import formatters
from core.sentry import before_send
from core.tests.local_server import LocalHTTPServer
from core.wechat.client import WeChatClient, WeChatError
from portal.celery import app

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


# --- Probes ---------------------------------------------------------------------------------------


def test_liveness_answers_without_touching_a_dependency(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there: liveness must not care

    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readiness_checks_the_database_the_cache_and_the_broker(client):
    response = client.get("/health/ready", HTTP_ACCEPT="application/json")

    assert response.status_code == 200, response.content
    checks = response.json()
    assert {name.split("(")[0] for name in checks} == {"Database", "Cache", "Broker"}
    assert set(checks.values()) == {"OK"}


def test_readiness_fails_naming_the_broker_when_it_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://:s3cret-password@127.0.0.1:1/0"

    response = client.get("/health/ready", HTTP_ACCEPT="application/json")

    assert response.status_code == 500
    body = response.json()
    failing = {name: status for name, status in body.items() if status != "OK"}
    assert [name.split("(")[0] for name in failing] == ["Broker"]
    assert "s3cret-password" not in response.content.decode()


# --- Structured logs ------------------------------------------------------------------------------


@pytest.fixture
def json_log():
    """The root logger's lines as production writes them (LOG_FORMAT=json), parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.config.DictConfigurator({}).configure_formatter(formatters()["json"]))
    root = logging.getLogger()
    root.addHandler(handler)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    lines.text = stream.getvalue
    yield lines
    root.removeHandler(handler)


def test_each_request_is_answered_with_its_request_id_and_logged_as_one_json_line(client, json_log):
    response = client.get("/cgi-bin/token", {"grant_type": "client_credential", "appid": "wx1", "secret": "TOPSECRET"})

    request_id = response["X-Request-ID"]
    finished = [line for line in json_log() if line["event"] == "request_finished"]
    assert len(finished) == 1
    line = finished[0]
    assert line["request_id"] == request_id
    assert line["code"] == response.status_code
    assert line["level"] in {"info", "warning"}
    assert line["request"].startswith("GET /cgi-bin/token?")
    assert "timestamp" in line
    assert "TOPSECRET" not in json_log.text()
    assert "secret=[redacted]" in line["request"]


def test_two_requests_get_different_request_ids_and_an_upstream_id_is_not_trusted_by_default(client):
    first = client.get("/health/live", HTTP_X_REQUEST_ID="chosen-by-the-client")
    second = client.get("/health/live")

    assert first["X-Request-ID"] != "chosen-by-the-client"
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_an_upstream_request_id_is_kept_behind_a_proxy_that_sets_it(client, settings):
    settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True

    response = client.get("/health/live", HTTP_X_REQUEST_ID="lb-7f3a")

    assert response["X-Request-ID"] == "lb-7f3a"


def test_a_wechat_failure_is_logged_with_its_errcode_and_latency(fake_wechat):
    fake_wechat.raw_answer = (200, json.dumps({"errcode": 40013, "errmsg": "invalid appid"}).encode())

    with capture_logs() as events, pytest.raises(WeChatError):
        WeChatClient.from_settings().access_token()

    (failure,) = [event for event in events if event["event"] == "wechat_request_failed"]
    assert failure["errcode"] == 40013
    assert failure["errmsg"] == "invalid appid"
    assert failure["path"] == "/cgi-bin/token"
    assert failure["unavailable"] is False
    assert failure["log_level"] == "warning"
    assert isinstance(failure["latency_ms"], float) and failure["latency_ms"] >= 0


def test_wechat_unreachable_is_logged_as_unavailable_without_the_secret(fake_wechat, settings, json_log):
    fake_wechat.stop()  # nothing answers at its address now

    with pytest.raises(WeChatError):
        WeChatClient.from_settings().access_token()

    (failure,) = [line for line in json_log() if line["event"] == "wechat_request_failed"]
    assert failure["unavailable"] is True
    assert failure["errcode"] == -1
    assert settings.WECHAT_SECRET not in json_log.text()


# --- Queues ---------------------------------------------------------------------------------------


def test_every_task_is_routed_to_a_declared_queue_of_its_kind():
    """A large import or a reconciliation backlog cannot delay deliveries or link expiry (docs/deploy.md)."""
    declared = {queue.name for queue in django_settings.CELERY_TASK_QUEUES}
    tasks = sorted(name for name in app.tasks if not name.startswith("celery."))
    assert tasks, "the portal's tasks are registered"
    routes = django_settings.CELERY_TASK_ROUTES
    assert [name for name in tasks if name not in routes] == []
    assert {route["queue"] for route in routes.values()} <= declared - {"default"}
    assert routes["schools.tasks.run_import_job"]["queue"] != routes["contacts.tasks.expire_share_links"]["queue"]
    assert routes["schools.tasks.deliver_webhook"]["queue"] == "deliveries"
    for name in tasks:  # Celery's own router agrees with the table
        assert app.amqp.router.route({}, name)["queue"].name == routes[name]["queue"]


# --- Sentry ---------------------------------------------------------------------------------------


def test_sentry_events_keep_no_cookie_header_body_or_secret_and_carry_the_request_id():
    event = {
        "request": {
            "method": "GET",
            "url": "https://portal.example.cn/cgi-bin/token?appid=wx1&secret=TOPSECRET",
            "query_string": "appid=wx1&secret=TOPSECRET",
            "cookies": {"sessionid": "abc"},
            "headers": {"Authorization": "Bearer t"},
            "data": {"code": "wx-login-code"},
            "env": {"REMOTE_ADDR": "10.0.0.1"},
        },
        "user": {"ip_address": "10.0.0.1"},
    }
    with structlog.contextvars.bound_contextvars(request_id="rid-42"):
        sent = before_send(event, {})

    assert sent["request"] == {
        "method": "GET",
        "url": "https://portal.example.cn/cgi-bin/token?appid=wx1&secret=[redacted]",
    }
    assert "user" not in sent
    assert sent["tags"]["request_id"] == "rid-42"


class _SentryIngest(LocalHTTPServer):
    def __init__(self):
        super().__init__(_SentryHandler)
        self.bodies: list[bytes] = []
        self.received = threading.Event()


class _SentryHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.bodies.append(body)
        self.server.received.set()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")


def test_production_reports_to_sentry_only_when_sentry_dsn_is_set():
    ingest = _SentryIngest().start()
    try:
        host = ingest.base_url.split("://", 1)[1]
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}},
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "SECRET_KEY": "x" * 60,
            "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "CACHE_URL": "rediscache://127.0.0.1:6379/1",
        }
        code = (
            "import django, sentry_sdk, structlog; django.setup()\n"
            "with structlog.contextvars.bound_contextvars(request_id='rid-7'):\n"
            "    print(bool(sentry_sdk.get_client().is_active()))\n"
            "    sentry_sdk.capture_message('probe')\n"
            "sentry_sdk.flush(5)\n"
        )
        without = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True)
        assert without.returncode == 0, without.stderr
        assert without.stdout.strip() == "False"
        assert ingest.bodies == []

        env["SENTRY_DSN"] = f"http://publickey@{host}/1"
        with_dsn = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True)
        assert with_dsn.returncode == 0, with_dsn.stderr
        assert with_dsn.stdout.strip() == "True"
        assert ingest.received.wait(10)
        envelope = b"".join(ingest.bodies)
        assert b'"request_id":"rid-7"' in envelope.replace(b" ", b"")
        assert b"probe" in envelope
    finally:
        ingest.stop()
