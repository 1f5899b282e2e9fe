"""An HTTP relay in front of a real server (moto's S3) that can slow, fail or cut requests.

The bot talks to the relay exactly as to S3 (its ``s3_endpoint_url``); the
relay forwards each request to the upstream server unless a rule says
otherwise. Rules see the request line (method, path and query: enough to tell
an ``UploadPart`` from a ``CompleteMultipartUpload``) and answer with an
``Action``: forward after a delay, answer with an HTTP error, or drop the
connection without answering (a network cut). One request per connection
(the relay answers ``Connection: close``), so every request is seen.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

HEAD_LIMIT = 64 * 1024
READ = 64 * 1024


@dataclass(frozen=True)
class Exchange:
    """One request the relay received: its method, path and query."""

    method: str
    path: str
    query: dict[str, str]

    @property
    def part_number(self) -> int | None:
        """The part of an S3 ``UploadPart`` request, else None."""
        number = self.query.get("partNumber")
        return int(number) if number and self.method == "PUT" else None


@dataclass(frozen=True)
class Action:
    """What to do with a request: ``delay`` first, then forward it, or answer
    ``status`` (with an S3-style XML error ``code``), or ``drop`` the connection."""

    delay: float = 0.0
    status: int | None = None
    code: str = "InternalError"
    drop: bool = False


Rule = Callable[[Exchange], Action | None]


def forward(_: Exchange) -> None:
    """The default rule: every request goes through as it came."""


class HttpRelay:
    """``with HttpRelay("http://127.0.0.1:PORT") as relay:`` — ``relay.url`` is its address."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.rule: Rule = forward
        self.seen: list[Exchange] = []
        self._lock = threading.Lock()
        relay = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                relay._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> HttpRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpRelay:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def exchanges(self, predicate: Callable[[Exchange], bool] = lambda _: True) -> list[Exchange]:
        with self._lock:
            return [e for e in self.seen if predicate(e)]

    # --- one connection, one request ---------------------------------------------

    def _serve(self, client: socket.socket) -> None:
        try:
            head, rest = _read_head(client)
        except ConnectionError:
            return
        if head is None:
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        path, _, query = target.partition("?")
        exchange = Exchange(method, path, dict(urllib.parse.parse_qsl(query, True)))
        with self._lock:
            self.seen.append(exchange)
        action = self.rule(exchange) or Action()
        headers = [h for h in header_lines if h]
        expects = any(h.lower().startswith("expect:") for h in headers)
        if action.delay:
            time.sleep(action.delay)
        if action.drop:
            client.close()
            return
        if action.status is not None:
            client.sendall(_error_response(action.status, action.code))
            return
        if expects:
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = _read_body(client, headers, rest)
        kept = [h for h in headers if not h.lower().startswith(("connection:", "expect:"))]
        upstream_head = "\r\n".join([request_line, *kept, "Connection: close", "", ""])
        with socket.create_connection(self.upstream, timeout=120) as upstream:
            upstream.sendall(upstream_head.encode("latin-1") + body)
            _relay_response(upstream, client)


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(READ)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > HEAD_LIMIT:
            raise ConnectionError("request head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _header(headers: list[str], name: str) -> str | None:
    for line in headers:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _read_body(sock: socket.socket, headers: list[str], rest: bytes) -> bytes:
    """The request body as sent (chunked bodies are passed on still chunked)."""
    length = _header(headers, "content-length")
    if length is not None:
        body = rest
        while len(body) < int(length):
            chunk = sock.recv(READ)
            if not chunk:
                break
            body += chunk
        return body
    if (_header(headers, "transfer-encoding") or "").lower() == "chunked":
        body = rest
        while not body.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(READ)
            if not chunk:
                break
            body += chunk
        return body
    return rest


def _relay_response(upstream: socket.socket, client: socket.socket) -> None:
    """Pass the upstream's answer on, saying the connection closes after it."""
    head, rest = _read_head(upstream)
    if head is None:
        return
    status_line, *lines = head.decode("latin-1").split("\r\n")
    kept = [h for h in lines if h and not h.lower().startswith("connection:")]
    client.sendall(
        "\r\n".join([status_line, *kept, "Connection: close", "", ""]).encode("latin-1") + rest
    )
    while chunk := upstream.recv(READ):
        client.sendall(chunk)


def _error_response(status: int, code: str) -> bytes:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>injected by the test relay</Message></Error>"
    ).encode()
    reason = {403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable"}
    head = (
        f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body
