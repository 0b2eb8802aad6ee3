"""A school's webhook receiver as the README tells schools to write one, for tests (a local HTTP server).

It verifies ``X-Portal-Signature`` with the endpoint's secret (``secrets``: path → secret) and
refuses (401) what does not verify; it dedupes by ``X-Portal-Event-Id`` as receivers must.
``answers`` queues the statuses of the next requests (then 204); ``delay`` (seconds) holds each
answer, to catch a worker in the middle of a delivery.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from core.tests.local_server import LocalHTTPServer
from schools.services.events import webhook_signature_verify


class WebhookReceiver(LocalHTTPServer):
    def __init__(self):
        super().__init__(_Handler)
        self.secrets: dict[str, str] = {}
        self.answers: list[int] = []
        self.delay = 0.0
        self.requests: list[dict] = []  # every request: {path, headers, body, verified, status}
        self.events: dict[str, dict] = {}  # event id → body, first delivery only (the dedup)
        self.lock = threading.Lock()

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path

    @property
    def duplicates(self) -> int:
        """Verified deliveries of an event id already received (what dedup removed)."""
        verified = [r for r in self.requests if r["verified"] and r["status"] < 300]
        return len(verified) - len(self.events)


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        secret = self.server.secrets.get(self.path, "")
        verified = webhook_signature_verify(secret=secret, header=self.headers.get("X-Portal-Signature", ""), body=body)
        with self.server.lock:
            status = (self.server.answers.pop(0) if self.server.answers else 204) if verified else 401
        if self.server.delay:
            time.sleep(self.server.delay)
        with self.server.lock:
            self.server.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "verified": verified,
                    "status": status,
                }
            )
            event_id = self.headers.get("X-Portal-Event-Id", "")
            if verified and status < 300 and event_id not in self.server.events:
                self.server.events[event_id] = json.loads(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass
