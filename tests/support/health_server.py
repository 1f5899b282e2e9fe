"""A health URL for tests whose answer the test changes while it runs."""

from __future__ import annotations

import http.server
import threading
from typing import Any


class HealthServer:
    """``with HealthServer() as health:`` serves ``health.url``; set ``health.status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(owner.status)
                self.end_headers()
                self.wfile.write(b"ok" if owner.status < 400 else b"down")

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/health"

    def __enter__(self) -> HealthServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
