"""A local fake of WeChat's server API (REFERENCE.md §5) for tests: a real HTTP server on 127.0.0.1.

Tests script its answers: ``server.sessions[code] = {...}`` for jscode2session; every request is
recorded in ``server.requests`` as ``(method, path, query, json_body)``.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeWeChat(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sessions: dict[str, dict] = {}  # js_code -> answer body
        self.requests: list[tuple[str, str, dict, dict | None]] = []
        self.raw_answer: tuple[int, bytes] | None = None  # force a status and body for every request

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self):
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


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

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.requests.append(("GET", url.path, query, None))
        if self.server.raw_answer is not None:
            return self._answer(*self.server.raw_answer)
        if url.path == "/sns/jscode2session":
            if query.get("grant_type") != "authorization_code" or not query.get("appid") or not query.get("secret"):
                return self._answer(200, {"errcode": 40013, "errmsg": "invalid appid"})
            answer = self.server.sessions.get(query.get("js_code", ""), {"errcode": 40029, "errmsg": "invalid code"})
            return self._answer(200, answer)
        return self._answer(404, {"errcode": 404, "errmsg": "not found"})
