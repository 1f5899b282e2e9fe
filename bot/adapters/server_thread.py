"""An ASGI app served by uvicorn on a background thread, on a port of its own.

Used where the bot's process hosts a second web server (the local
Slack-compatible server of tests, the sandbox and the benchmarks). The port
is taken by binding to 0, so two servers never race for one; a caller that
must know the port before the app is built binds the socket itself (``sock``).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


class ServerThreadError(RuntimeError):
    """The server did not start (or stop) in time."""


class ServerThread:
    """``start()`` returns once the socket listens; ``stop()`` drains and joins."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        sock: socket.socket | None = None,
    ) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        sockets = [sock] if sock is not None else None
        self._thread = threading.Thread(
            target=lambda: self._server.run(sockets=sockets), name="uvicorn", daemon=True
        )
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServerThreadError(f"the server on {self.host} did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise ServerThreadError(f"the server on {self.url} did not stop")

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
