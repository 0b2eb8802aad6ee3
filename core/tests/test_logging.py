"""Secrets stay out of the logs (issue 9 §8): core.logging.RedactSecretsFilter, wired in LOGGING.

Through real requests: Django's ``Not Found: <path>`` warnings (django.request), an HTTP client's
request line (urllib3, with the portal's WeChat secret and the wx.login code), and runserver's
access log (django.server, a real ``manage.py runserver``).
"""

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.logging import REDACTED, RedactSecretsFilter, redact

BASE_DIR = Path(__file__).resolve().parents[2]


def logged_text(caplog) -> str:
    """Every record's formatted message and traceback, as any handler would write them."""
    formatter = logging.Formatter()
    return "\n".join(formatter.format(record) for record in caplog.records)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '"GET /cgi-bin/token?grant_type=client_credential&appid=wx1&secret=S3CR3T HTTP/1.1" 200 5',
            '"GET /cgi-bin/token?grant_type=client_credential&appid=wx1&secret=[redacted] HTTP/1.1" 200 5',
        ),
        ("/api/v1/device/calls/check?access_token=TOK123", "/api/v1/device/calls/check?access_token=[redacted]"),
        (
            "/wxa/business/getvoipcontactlist?access_token=T&x=1",
            "/wxa/business/getvoipcontactlist?access_token=[redacted]&x=1",
        ),
        ("Not Found: /api/v1/share-links/AbC_12-x", "Not Found: /api/v1/share-links/[redacted]"),
        ("Not Found: /api/v1/share-links/AbC_12-x/bind", "Not Found: /api/v1/share-links/[redacted]/bind"),
        ("/pages/bind-contact/index?token=abc", "/pages/bind-contact/index?token=[redacted]"),
        (
            "/sns/jscode2session?appid=a&secret=b&js_code=c&grant_type=x",
            "/sns/jscode2session?appid=a&secret=[redacted]&js_code=[redacted]&grant_type=x",
        ),
        ("/login?code=sandbox:oX", "/login?code=[redacted]"),
        ("/api/v1/students/u1/contacts?appid=wx1", "/api/v1/students/u1/contacts?appid=wx1"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_filter_redacts_message_args_split_values_and_tracebacks():
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "%s: %s", ("Not Found", "/api/v1/share-links/TOK1"), None
    )
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "Not Found: /api/v1/share-links/[redacted]"

    # the key in the format, the value in an argument
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /cgi-bin/token?secret=%s", ("S3CR3T",), None)
    RedactSecretsFilter().filter(record)
    assert "S3CR3T" not in record.getMessage()

    try:
        raise ConnectionError("Max retries exceeded with url: /sns/jscode2session?appid=a&secret=S3CR3T&js_code=C0DE")
    except ConnectionError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert RedactSecretsFilter().filter(record) is True  # never drops a record
    text = logging.Formatter().format(record)
    assert "S3CR3T" not in text and "C0DE" not in text and "secret=[redacted]" in text


def test_logging_settings_wire_the_filter_on_the_request_and_server_loggers_and_the_root_handler():
    def has_filter(filterer):
        return any(isinstance(f, RedactSecretsFilter) for f in filterer.filters)

    assert has_filter(logging.getLogger("django.request"))
    assert has_filter(logging.getLogger("django.server"))
    for logger in (logging.getLogger("django.server"), logging.getLogger()):
        handlers = [h for h in logger.handlers if type(h) is logging.StreamHandler]  # not pytest's own
        assert handlers and all(has_filter(handler) for handler in handlers)


@pytest.mark.django_db
def test_share_link_tokens_never_reach_the_log(parent_api, caplog):
    client = parent_api("oParentLog")
    caplog.set_level(logging.INFO)

    assert client.get("/api/v1/share-links/SHARELINKTOKEN0001").status_code == 404
    assert client.post(
        "/api/v1/share-links/SHARELINKTOKEN0002/bind", {"relation": "爸爸"}, format="json"
    ).status_code in {
        400,
        404,
    }

    text = logged_text(caplog)
    assert "Not Found: /api/v1/share-links/[redacted]" in text  # Django's warning is still there
    assert "SHARELINKTOKEN" not in text


@pytest.mark.django_db
def test_vendor_secrets_and_access_tokens_never_reach_the_log(api, vendor, caplog):
    client, _secret = vendor
    caplog.set_level(logging.INFO)

    response = api.get(
        "/cgi-bin/token", {"grant_type": "client_credential", "appid": client.appid, "secret": "WRONGSECRET1"}
    )
    assert response.status_code >= 400
    response = api.get(
        "/api/v1/device/students/u1/call-plan", {"sn": "SN1", "model_id": "m", "access_token": "BADTOKEN1"}
    )
    assert response.status_code >= 400
    response = api.post("/wxa/business/getvoipcontactlist?access_token=BADTOKEN2", {"user_id": "u1"}, format="json")
    assert response.status_code >= 400

    text = logged_text(caplog)
    assert "/cgi-bin/token" in text  # the failures are logged, without their credentials
    for secret in ("WRONGSECRET1", "BADTOKEN1", "BADTOKEN2"):
        assert secret not in text


@pytest.mark.django_db
def test_the_wechat_secret_and_login_code_in_an_http_clients_request_line_are_redacted(api, fake_wechat, caplog):
    fake_wechat.sessions["LOGINCODE123"] = {"openid": "oLogger", "session_key": "k"}
    caplog.set_level(logging.DEBUG)  # urllib3 logs each request line at DEBUG

    assert api.post("/api/v1/auth/login", {"code": "LOGINCODE123"}, format="json").status_code == 200

    text = logged_text(caplog)
    assert "jscode2session" in text and "js_code=[redacted]" in text
    assert "wx_test_secret" not in text and "LOGINCODE123" not in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_runservers_access_log_redacts_query_secrets_and_share_link_tokens(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",  # the requests below need no table
            "PYTHONUNBUFFERED": "1",
        }
    )
    log_path = tmp_path / "runserver.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        for path in (
            "/cgi-bin/unknown?grant_type=client_credential&appid=wx1&secret=RUNSERVERSECRET",
            "/api/v1/device/unknown?access_token=RUNSERVERTOKEN",
            "/api/v1/share-links/RUNSERVERSHARE",
            "/api/v1/unknown?code=RUNSERVERCODE&token=RUNSERVERTOKEN2",
        ):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
            except urllib.error.HTTPError as error:
                assert error.code in {401, 404}, path
    finally:
        server.terminate()
        server.wait(timeout=30)

    text = log_path.read_text()
    assert f'"GET /cgi-bin/unknown?grant_type=client_credential&appid=wx1&secret={REDACTED} HTTP/1.1" 404' in text, text
    assert "/api/v1/share-links/[redacted]" in text
    for secret in ("RUNSERVERSECRET", "RUNSERVERTOKEN", "RUNSERVERSHARE", "RUNSERVERCODE"):
        assert secret not in text, text
