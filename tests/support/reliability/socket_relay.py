"""A byte relay in front of a PostgreSQL server that can hold new connections.

It listens on a Unix socket in a folder of its own (libpq's ``host=FOLDER``)
and passes bytes to the real server (its Unix socket or TCP address). While
``hold()`` is on, new connections wait unanswered, as behind a hung network
path, and ``waiting`` counts them; ``release()`` lets them through.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from pathlib import Path

from commands.postgres.database_url import DatabaseUrl

READ = 64 * 1024


def _upstream_of(database: DatabaseUrl) -> str | tuple[str, int]:
    host = dict(database.query).get("host") or database.host or "localhost"
    port = int(database.port or 5432)
    if isinstance(host, tuple):
        host = host[0]
    return str(Path(host) / f".s.PGSQL.{port}") if host.startswith("/") else (host, port)


class PostgresRelay:
    """``with PostgresRelay(server_url, folder) as relay:`` — ``relay.url(db)`` goes through it."""

    def __init__(self, server: DatabaseUrl, folder: Path) -> None:
        self.server = server
        self.upstream = _upstream_of(server)
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(folder / ".s.PGSQL.5432"))
        self._listener.listen(64)
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.waiting = 0
        self._waiting_since: float | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, database: str) -> DatabaseUrl:
        """``database`` on the server, reached through the relay."""
        query = {**dict(self.server.query), "host": str(self.folder)}
        return dataclasses.replace(
            self.server, host=None, port=None, database=database, query=tuple(sorted(query.items()))
        )

    def start(self) -> PostgresRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._open.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def __enter__(self) -> PostgresRelay:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def held_for(self, seconds: float) -> bool:
        """A connection has been waiting for at least ``seconds``."""
        with self._lock:
            since = self._waiting_since
        return since is not None and time.monotonic() - since >= seconds

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self.waiting += 1
            if self._waiting_since is None:
                self._waiting_since = time.monotonic()
        self._open.wait()
        with self._lock:
            self.waiting -= 1
            if not self.waiting:
                self._waiting_since = None
        if self._stopping:
            client.close()
            return
        family = socket.AF_UNIX if isinstance(self.upstream, str) else socket.AF_INET
        upstream = socket.socket(family, socket.SOCK_STREAM)
        try:
            upstream.connect(self.upstream)
        except OSError:
            client.close()
            return
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until either end closes; then close both."""
    try:
        while chunk := source.recv(READ):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
