"""Live traffic for lock tests: writers that time every write, a session that holds a lock."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

# A writer's latency includes waiting for a CPU: on a 2-core machine running the
# suite in parallel that can add most of a second. The blocking periods in the
# lock tests are several seconds, so a plain migration would exceed budget +
# slack by far; ours must not.
SCHEDULING_SLACK_S = 1.0


@dataclass
class Writers:
    """Threads doing small INSERTs on ``table`` and recording each one's latency."""

    database: DatabaseUrl
    table: str
    threads: int = 4
    latencies: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Writers:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._write, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)

    def _write(self) -> None:
        with connect(self.database, application_name="app-writer") as conn:
            while not self._stop.is_set():
                started = time.monotonic()
                conn.execute(f"INSERT INTO {self.table} (v) VALUES (1)")
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.01)

    @property
    def worst(self) -> float:
        return max(self.latencies, default=0.0)


class LockHolder:
    """A session idle in a transaction that read ``table`` (ACCESS SHARE), until released."""

    def __init__(self, database: DatabaseUrl, table: str) -> None:
        self.conn = connect(database, autocommit=False, application_name="app-report-job")
        self.conn.execute(f"SELECT count(*) FROM {table}")
        self.pid = self.conn.info.backend_pid

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()
