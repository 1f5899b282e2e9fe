"""The backfill engine: walks the key in batches until nothing is left, a person pauses
or stops it, or batches keep failing.

Each batch is its own short transaction under ``lock_timeout``, its
statements cancelled past ``max_batch_time`` (so no row lock is held much
longer: the batch is redone smaller), and its checkpoint (the last key of its range) is in
the audit log before the next one starts: after a crash, at most the batch
in flight when the bot died is done again, and the predicate makes that a
no-op for the rows it already did. Right after its commit the batch's range is
read once (the rows the predicate still selects: ``left``), which sets its
row versions' hint bits while its pages are dirty anyway: the final count
otherwise did it after a checkpoint, writing every page whole to the WAL
(data checksums are on) in one burst each application commit had to flush.
Between batches the engine reads its
run's new events (a Pause or Stop click, from any process), the replica's
replay lag (over ``max_replica_lag``, or unreadable: it holds and polls),
and paces the next batch (``pacing``). While a batch runs, the lock monitor
counts the sessions waiting on its rows and cancels it if one has waited
``max_lock_wait`` (it is redone smaller: nothing is lost).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from audit.redact import redact
from commands.backfill.engine_lock import lock_name, try_engine_lock
from commands.backfill.ledger import BackfillLedger
from commands.backfill.model import BackfillRun, BackfillState
from commands.backfill.pacing import Pace, after_batch, after_failure
from commands.backfill.statements import KEY_TYPE, BackfillStatements, table_reference
from commands.backfill.throttle import ReplicaWatch
from commands.errors import MigrateBotError
from commands.migration.runtime.lock_monitor import Blocker, LockMonitor, QueueReport
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import EventKind
from commands.units import format_duration, postgres_interval

log = logging.getLogger(__name__)

MAX_FAILURES = 8  # batches in a row that time out or are cancelled before the run fails
HOLD_POLL_S = 0.5
MONITOR_INTERVAL_S = 0.05  # a batch lasts ~batch_time: sample waits several times in one

Notify = Callable[[BackfillRun], None]


class BackfillBusyError(MigrateBotError):
    """Another process's engine is running this backfill."""


@dataclass(frozen=True)
class Engine:
    """What an engine runs with: the log, the target's database and replica, and who to
    tell after each event it records (the Slack thread, the terminal)."""

    ledger: BackfillLedger
    database: DatabaseUrl
    replica: DatabaseUrl | None = None
    notify: Notify = field(default=lambda run: None)
    hold_poll_s: float = HOLD_POLL_S
    stopping: threading.Event = field(default_factory=threading.Event)  # the bot shuts down

    def run(self, run_id: str) -> BackfillRun:
        """Take ``run_id`` (approved, or resumed) and walk until it ends or is paused.

        Raises ``BackfillStateError`` when the run may not start (not approved,
        already taken) and ``BackfillBusyError`` when another engine holds it.
        """
        with connect(self.database, application_name=lock_name(run_id)) as conn:
            if not try_engine_lock(conn, run_id):
                raise BackfillBusyError(f"{run_id} is already being run by another process")
            run = self.ledger.start(run_id, owner=f"{socket.gethostname()} pid {os.getpid()}")
            self.notify(run)
            statements = BackfillStatements(run.spec, _key_type(conn, run))
            monitor = LockMonitor(
                self.database,
                lock_name(run_id),
                on_blocker=_log_blockers(run_id),
                on_queue_cancel=_log_cancel(run_id),
                queue_budget=run.spec.max_lock_wait,
                interval=MONITOR_INTERVAL_S,
            )
            with monitor, ReplicaWatch(conn, self.replica, run.spec) as replica:
                return _Walk(self, conn, statements, monitor, replica).loop(run)


@dataclass
class _Batch:
    upto: str | None
    walked: int
    rows: int
    seconds: float
    size: int
    queue: QueueReport
    left: int | None  # rows of its range the predicate still selects, read after its commit

    @property
    def last(self) -> bool:
        return self.walked < self.size


class _Walk:
    """One engine's loop over one run."""

    def __init__(
        self,
        engine: Engine,
        conn: psycopg.Connection,
        statements: BackfillStatements,
        monitor: LockMonitor,
        replica: ReplicaWatch,
    ) -> None:
        self.engine = engine
        self.ledger = engine.ledger
        self.conn = conn
        self.statements = statements
        self.spec = statements.spec
        self.monitor = monitor
        self.replica = replica

    def loop(self, run: BackfillRun) -> BackfillRun:
        pace = Pace(run.progress.last_size or self.spec.batch_size)
        failures = 0
        while True:
            run = self.ledger.newer(run)
            if run.state is not BackfillState.RUNNING:
                return run  # paused or stopped by a person: the batch before was recorded
            if self.engine.stopping.is_set():  # as after a crash: a person resumes it
                run = self.ledger.interrupt(run.id, why="the bot was shut down while it ran")
                self.engine.notify(run)
                return run
            reason = self.replica.hold_reason()
            if reason is not None:
                run = self._hold(run, *reason)
                continue
            if run.hold is not None:
                run = self._record(run, EventKind.BACKFILL_RELEASED, {"held_s": _since(run)})
            if pace.wait_s:
                time.sleep(pace.wait_s)
            try:
                batch = self._batch(run.progress.checkpoint, pace.size)
            except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled) as exc:
                failures += 1
                if failures >= MAX_FAILURES:
                    return self._finish(run, f"{failures} batches in a row failed: {_text(exc)}")
                failed = pace.size
                pace = after_failure(self.spec, size=failed, failures=failures)
                retry = {"size": failed, "error": _text(exc), "next_size": pace.size}
                run = self._record(run, EventKind.BACKFILL_RETRIED, retry)
                continue
            except psycopg.Error as exc:
                return self._finish(run, _text(exc))
            failures = 0
            self.replica.committed()
            run = self._record(run, EventKind.BACKFILL_BATCH, _batch_data(batch))
            if batch.last:
                return self._finish(run, None)
            pace = after_batch(
                self.spec,
                size=batch.size,
                rows=batch.rows,
                seconds=batch.seconds,
                waiters=batch.queue.waiting,
            )

    def _batch(self, after: str | None, size: int) -> _Batch:
        params = {"after": after, "size": size}
        self.monitor.take_worst_queue()
        started = time.monotonic()
        with self.conn.transaction():
            self._limit_transaction()
            row = self.conn.execute(self.statements.range_end(after), params).fetchone()
            upto, walked = (row[0], int(row[1])) if row else (None, 0)
            last = walked < size
            update = self.statements.update(after, None if last else upto)
            rows = self.conn.execute(update, {**params, "upto": upto}).rowcount
        seconds = time.monotonic() - started
        queue = self.monitor.take_worst_queue()
        left = self._read_back(after, None if last else upto, {**params, "upto": upto})
        upto = upto if upto is not None else after
        return _Batch(upto, walked, max(rows, 0), seconds, size, queue, left)

    def _limit_transaction(self) -> None:
        """The batch's ``lock_timeout`` and ``statement_timeout``, for this transaction."""
        self.conn.execute(
            "SELECT set_config('lock_timeout', %s, true),"
            " set_config('statement_timeout', %s, true)",
            (
                postgres_interval(self.spec.lock_timeout),
                postgres_interval(self.spec.max_batch_time),
            ),
        )

    def _read_back(self, after: str | None, upto: str | None, params: dict[str, Any]) -> int | None:
        """The rows of the committed batch's range the predicate still selects; None when
        they cannot be read within the batch's limits (the batch is done all the same)."""
        try:
            with self.conn.transaction():
                self._limit_transaction()
                row = self.conn.execute(self.statements.left(after, upto), params).fetchone()
        except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled) as exc:
            log.info("reading back a batch's range failed: %s", _text(exc))
            return None
        return int(row[0]) if row else 0

    def _hold(self, run: BackfillRun, reason: str, detail: str) -> BackfillRun:
        if run.hold is None or run.hold.reason != reason:
            run = self._record(run, EventKind.BACKFILL_HELD, {"reason": reason, "detail": detail})
        time.sleep(self.engine.hold_poll_s)
        return run

    def _finish(self, run: BackfillRun, error: str | None) -> BackfillRun:
        remaining = self._remaining() if error is None else None
        data = {
            "outcome": "failed" if error else "done",
            "error": error,
            "rows": run.progress.rows,
            "running_s": round(run.progress.running_s, 3),
            "longest_batch_s": round(run.progress.longest_batch_s, 3),
            "remaining": remaining,
        }
        return self._record(run, EventKind.BACKFILL_FINISHED, data)

    def _remaining(self) -> int | None:
        try:
            row = self.conn.execute(self.statements.remaining(), {}).fetchone()
        except psycopg.Error as exc:
            log.warning("counting what the backfill left failed: %s", _text(exc))
            return None
        return int(row[0]) if row else None

    def _record(self, run: BackfillRun, kind: EventKind, data: dict[str, Any]) -> BackfillRun:
        run = self.ledger.record(run, kind, data)
        self.engine.notify(run)
        return run


def _batch_data(batch: _Batch) -> dict[str, Any]:
    return {
        "upto": batch.upto,
        "walked": batch.walked,
        "rows": batch.rows,
        "seconds": round(batch.seconds, 4),
        "size": batch.size,
        "left": batch.left,
        "waiters": batch.queue.waiting,
        "longest_wait_s": round(batch.queue.longest_wait_s, 3),
    }


def _since(run: BackfillRun) -> float:
    assert run.hold is not None
    started = run.hold.since.timestamp()
    return round(max(time.time() - started, 0.0), 3)


def _key_type(conn: psycopg.Connection, run: BackfillRun) -> str:
    """The key's type from the catalog (pre-flight checked it exists and is indexed)."""
    row = conn.execute(KEY_TYPE, (table_reference(conn, run.spec), run.spec.key)).fetchone()
    if row is None:
        raise MigrateBotError(f"{run.spec.table} has no column {run.spec.key} any more")
    return str(row[0])


def _text(exc: BaseException) -> str:
    return redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def _log_blockers(run_id: str) -> Callable[[list[Blocker]], None]:
    def report(blockers: list[Blocker]) -> None:
        for blocker in blockers:
            log.info("%s: a batch waits for %s", run_id, blocker.describe())

    return report


def _log_cancel(run_id: str) -> Callable[[QueueReport], None]:
    def report(queue: QueueReport) -> None:
        log.info(
            "%s: batch cancelled, %d session(s) waited on its rows up to %s",
            run_id,
            queue.waiting,
            format_duration(queue.longest_wait_s),
        )

    return report
