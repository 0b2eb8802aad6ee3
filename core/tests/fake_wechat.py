"""A local fake of WeChat's server API (REFERENCE.md §5) for tests: a real HTTP server on 127.0.0.1.

Tests script its answers: ``server.sessions[code] = {...}`` for jscode2session,
``server.sn_ticket_answers[sn] = {"errcode": 48001, ...}`` for getsnticket; every request is
recorded in ``server.requests`` as ``(method, path, query, json_body)``.

``GET /cgi-bin/token`` checks ``appid``/``secret`` against ``server.appid``/``server.secret`` and
issues ``fake-token-<n>`` (``tokens_issued`` counts them) valid for ``token_expires_in`` seconds,
after sleeping ``token_delay`` seconds. ``POST /wxa/getsnticket`` answers 41001 without an
access_token, 40001 for a token it never issued, 42001 for one in ``expired_tokens``.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from core.wechat.errcodes import ErrCode, envelope


class FakeWeChat(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sessions: dict[str, dict] = {}  # js_code -> answer body
        self.requests: list[tuple[str, str, dict, dict | None]] = []
        self.raw_answer: tuple[int, bytes] | None = None  # force a status and body for every request
        # /cgi-bin/token
        self.appid = "wx_test_appid"  # portal.settings_test.WECHAT_APPID
        self.secret = "wx_test_secret"  # portal.settings_test.WECHAT_SECRET
        self.token_expires_in = 7200  # seconds
        self.token_delay = 0.0  # seconds to sleep before answering /cgi-bin/token
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.expired_tokens: set[str] = set()  # tokens getsnticket answers 42001 for
        # /wxa/getsnticket
        self.sn_ticket_answers: dict[str, dict] = {}  # sn -> answer body (an error, usually)
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [path for _method, path, _query, _body in self.requests]

    def start(self):
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that timed out and hung up: expected in tests, keep the output quiet
        super().handle_error(request, client_address)

    def issue_token(self) -> dict:
        with self.lock:
            self.tokens_issued += 1
            token = f"fake-token-{self.tokens_issued}"
            self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": self.token_expires_in}


class _Handler(BaseHTTPRequestHandler):
    server: FakeWeChat

    def log_message(self, *args):  # keep test output quiet
        pass

    def _answer(self, status: int, body: dict | bytes):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, method: str, body: dict | None = None) -> tuple[str, dict]:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.server.lock:
            self.server.requests.append((method, url.path, query, body))
        return url.path, query

    def do_GET(self):
        path, query = self._record("GET")
        if self.server.raw_answer is not None:
            return self._answer(*self.server.raw_answer)
        if path == "/sns/jscode2session":
            if query.get("grant_type") != "authorization_code" or not query.get("appid") or not query.get("secret"):
                return self._answer(200, envelope(ErrCode.INVALID_APPID))
            answer = self.server.sessions.get(query.get("js_code", ""), envelope(ErrCode.INVALID_CODE))
            return self._answer(200, answer)
        if path == "/cgi-bin/token":
            if self.server.token_delay:
                time.sleep(self.server.token_delay)
            if query.get("grant_type") != "client_credential":
                return self._answer(200, envelope(ErrCode.INVALID_GRANT_TYPE))
            if query.get("appid") != self.server.appid:
                return self._answer(200, envelope(ErrCode.INVALID_APPID))
            if query.get("secret") != self.server.secret:
                return self._answer(200, envelope(ErrCode.INVALID_CREDENTIAL, "invalid credential, secret is wrong"))
            return self._answer(200, self.server.issue_token())
        return self._answer(404, {"errcode": 404, "errmsg": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path, query = self._record("POST", body)
        if self.server.raw_answer is not None:
            return self._answer(*self.server.raw_answer)
        if path == "/wxa/getsnticket":
            token = query.get("access_token")
            if not token:
                return self._answer(200, envelope(ErrCode.TOKEN_MISSING))
            if token in self.server.expired_tokens:
                return self._answer(200, envelope(ErrCode.TOKEN_EXPIRED))
            if token not in self.server.valid_tokens:
                return self._answer(200, envelope(ErrCode.INVALID_CREDENTIAL))
            if (
                not isinstance(body, dict)
                or not isinstance(body.get("sn"), str)
                or not isinstance(body.get("model_id"), str)
            ):
                return self._answer(200, envelope(ErrCode.BAD_DATA))
            answer = self.server.sn_ticket_answers.get(body["sn"])
            if answer is not None:
                return self._answer(200, answer)
            return self._answer(200, envelope(ErrCode.OK, sn_ticket=f"ticket-{body['sn']}"))
        return self._answer(404, {"errcode": 404, "errmsg": "not found"})
