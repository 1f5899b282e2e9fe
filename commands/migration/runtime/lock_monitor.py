"""Watches a running revision's locks from a connection of its own.

Two things a release engineer watches by hand (the runbook's "Migration
Hangs" queries): who is blocking the migration while it waits for a lock,
and whether live traffic is piling up *behind* the migration. The first is
reported as it changes; for the second, once any session has waited on the
migration for longer than the queue budget, the migration's own statement is
cancelled (``pg_cancel_backend``) so the queue drains, and the lock-retry
schedule decides what happens next.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import psycopg

from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.units import format_duration

log = logging.getLogger(__name__)
QUERY_PREVIEW = 120

_OUR_BACKENDS = """
SELECT pid, wait_event_type FROM pg_stat_activity
WHERE (application_name = %s OR pid = ANY(%s)) AND pid <> pg_backend_pid()
"""
_BLOCKERS = """
SELECT b.pid, b.state, b.usename, b.application_name,
       extract(epoch FROM now() - b.xact_start), extract(epoch FROM now() - b.state_change),
       left(regexp_replace(b.query, '\\s+', ' ', 'g'), %s)
FROM pg_stat_activity b
WHERE b.pid IN (SELECT unnest(pg_blocking_pids(pid)) FROM pg_stat_activity WHERE pid = ANY(%s))
  AND NOT b.pid = ANY(%s)
ORDER BY b.xact_start NULLS LAST
"""
_QUEUE = """
SELECT count(DISTINCT w.pid), coalesce(max(extract(epoch FROM now() - l.waitstart)), 0)
FROM pg_locks l JOIN pg_stat_activity w ON w.pid = l.pid
WHERE NOT l.granted AND l.waitstart IS NOT NULL
  AND pg_blocking_pids(w.pid) && %s::int[] AND NOT w.pid = ANY(%s)
"""


@dataclass(frozen=True)
class Blocker:
    """A session holding a lock the migration waits for."""

    pid: int
    state: str | None
    user: str | None
    application: str | None
    transaction_age_s: float | None
    state_age_s: float | None
    query: str

    def describe(self) -> str:
        """'pid 4242, idle in transaction for 12 min: SELECT … FROM segments'."""
        age = self.state_age_s if self.state == "idle in transaction" else self.transaction_age_s
        how_long = f" for {format_duration(age)}" if age is not None else ""
        query = f": {self.query}" if self.query else ""
        return f"pid {self.pid}, {self.state or 'unknown state'}{how_long}{query}"


@dataclass(frozen=True)
class QueueReport:
    """Sessions waiting behind the migration, and the longest wait."""

    waiting: int
    longest_wait_s: float


class LockMonitor:
    """Samples locks around the backends named ``application_name`` (and those given to
    ``follow_pid``: env.py may name its connections itself) until stopped.

    ``on_blocker`` is called when the set of blockers changes (with an empty
    list once nothing blocks); ``on_queue_cancel`` when the monitor cancelled
    the migration's statement because the queue behind it waited longer than
    ``queue_budget`` seconds (``None``: never cancel).
    """

    def __init__(
        self,
        database: DatabaseUrl,
        application_name: str,
        *,
        on_blocker: Callable[[list[Blocker]], None],
        on_queue_cancel: Callable[[QueueReport], None],
        queue_budget: float | None,
        interval: float = 0.2,
    ) -> None:
        self.database = database
        self.application_name = application_name
        self.on_blocker = on_blocker
        self.on_queue_cancel = on_queue_cancel
        self.queue_budget = queue_budget
        self.interval = interval
        self.cancelled_for_queue = False
        self.worst_queue = QueueReport(0, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-monitor", daemon=True)
        self._last_blockers: tuple[int, ...] = ()
        self._pids: list[int] = []

    def take_worst_queue(self) -> QueueReport:
        """The worst queue since the last call, and re-arm the cancel: a backfill asks
        after each batch, each batch being a statement of its own to cancel."""
        worst, self.worst_queue = self.worst_queue, QueueReport(0, 0.0)
        self.cancelled_for_queue = False
        return worst

    def follow_pid(self, pid: int | None) -> None:
        """Also sample around backend ``pid`` (the one env.py migrates on)."""
        if pid is not None and pid not in self._pids:
            self._pids = [*self._pids, pid]

    def __enter__(self) -> LockMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            with connect(self.database, application_name="migrate-bot lock monitor") as conn:
                while not self._stop.wait(self.interval):
                    self._sample(conn)
        except Exception:  # a monitor failure must not fail the migration it watches
            log.exception("lock monitor stopped")

    def _sample(self, conn: psycopg.Connection) -> None:
        ours = conn.execute(_OUR_BACKENDS, (self.application_name, self._pids)).fetchall()
        pids = [pid for pid, _ in ours]
        if not pids:
            return
        waiting = [pid for pid, wait in ours if wait == "Lock"]
        blockers = self._blockers(conn, waiting, pids) if waiting else []
        key = tuple(b.pid for b in blockers)
        if key != self._last_blockers:
            self._last_blockers = key
            self.on_blocker(blockers)
        self._watch_queue(conn, pids)

    def _blockers(
        self, conn: psycopg.Connection, waiting: list[int], ours: list[int]
    ) -> list[Blocker]:
        rows = conn.execute(_BLOCKERS, (QUERY_PREVIEW, waiting, ours)).fetchall()
        return [
            Blocker(row[0], row[1], row[2], row[3], _float(row[4]), _float(row[5]), row[6] or "")
            for row in rows
        ]

    def _watch_queue(self, conn: psycopg.Connection, ours: list[int]) -> None:
        row = conn.execute(_QUEUE, (ours, ours)).fetchone()
        report = QueueReport(int(row[0]), float(row[1])) if row else QueueReport(0, 0.0)
        if report.longest_wait_s > self.worst_queue.longest_wait_s:
            self.worst_queue = report
        over_budget = self.queue_budget is not None and report.longest_wait_s > self.queue_budget
        if over_budget and not self.cancelled_for_queue:
            self.cancelled_for_queue = True
            for pid in ours:
                conn.execute("SELECT pg_cancel_backend(%s)", (pid,))
            self.on_queue_cancel(report)


def _float(value: float | Decimal | None) -> float | None:
    return float(value) if value is not None else None
