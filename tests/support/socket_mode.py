"""A Slack Socket Mode endpoint for tests and benches: fronts connect to it as to Slack.

``LocalSlackServer(app_token=…, socket_url=endpoint.url)`` answers
``apps.connections.open`` with its URL. Each connection is greeted with
``hello``; ``send`` gives an envelope to one connection (in turn, as Slack
spreads events over an app's connections) and returns how long its ack
took, in ms: the Socket Mode twin of an HTTP request's time to 200.
``drop()`` closes every connection from this side, as Slack does when it
refreshes or loses one; an app reconnects (``opened`` counts connections).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

ACK_TIMEOUT_S = 30.0


class SocketModeEndpoint:
    """``with SocketModeEndpoint() as endpoint:`` — ``endpoint.url`` for ``socket_url``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server: Server = serve(self._connected, host, 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._connections: list[ServerConnection] = []
        self._turn = itertools.count()
        self._waiting: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.opened = 0
        host_port = self._server.socket.getsockname()
        self.url = f"ws://{host_port[0]}:{host_port[1]}/link"

    def __enter__(self) -> SocketModeEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._thread.join(10)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def _connected(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        with self._lock:
            self._connections.append(connection)
            self.opened += 1
        try:
            for message in connection:
                envelope_id = json.loads(message).get("envelope_id")
                with self._lock:
                    acked = self._waiting.get(str(envelope_id))
                if acked is not None:
                    acked.set()
        except ConnectionClosed:  # the app went away (stopped, or killed): its turn ends
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)

    def drop(self) -> int:
        """Close every connection (the apps see it go away); how many were closed."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()
        return len(connections)

    def send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> float:
        """Give ``payload`` (``slash_commands`` or ``interactive``) to a connection; ms to
        ack. ``retry_attempt`` > 0: Slack's redelivery of an envelope it saw no ack for."""
        envelope_id = str(uuid.uuid4())
        acked = threading.Event()
        with self._lock:
            if not self._connections:
                raise AssertionError("no front is connected")
            connection = self._connections[next(self._turn) % len(self._connections)]
            self._waiting[envelope_id] = acked
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind == "slash_commands",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        began = time.perf_counter()
        connection.send(json.dumps(envelope))
        try:
            if not acked.wait(ACK_TIMEOUT_S):
                raise AssertionError(f"no ack for {envelope_id} in {ACK_TIMEOUT_S:g} s")
            return (time.perf_counter() - began) * 1000
        finally:
            with self._lock:
                del self._waiting[envelope_id]


def envelope_of(body: bytes) -> tuple[str, dict[str, Any]]:
    """A signed request's form body as Socket Mode sends the same thing: kind and payload."""
    fields = dict(parse_qsl(body.decode()))
    if "payload" in fields:
        return "interactive", json.loads(fields["payload"])
    return "slash_commands", dict(fields)
