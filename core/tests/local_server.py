"""A local HTTP server in a thread, for the tests' stand-ins of what is outside our control
(the fake WeChat, a school's webhook receiver)."""

import sys
import threading
from http.server import ThreadingHTTPServer


class LocalHTTPServer(ThreadingHTTPServer):
    """Serves ``handler`` on 127.0.0.1 at a free port: ``start()``, ``base_url``, ``stop()``."""

    daemon_threads = True

    def __init__(self, handler):
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self):
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up (timed out, or a killed worker): expected in tests
        super().handle_error(request, client_address)
