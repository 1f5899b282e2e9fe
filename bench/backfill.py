"""Benchmark: a backfill against one plain ``UPDATE`` of the same rows, side by side.

A table of ``--rows`` rows (``items``: id, old, new, a payload) on an embedded
PostgreSQL with a real streaming replica. A simulated application, a process
of its own (``tests/support/app_process.py``, profile ``items-both``: the
dual-write phase), updates random rows the whole time and times each write.
In one run, on the same freshly built table each time:

1. idle: the application alone (its baseline latency);
2. the backfill: migrate-bot's engine (pre-flight, then batches sized to
   ``--batch-time``, held while the replica's replay is over ``--max-lag``);
3. one plain ``UPDATE items SET new = old WHERE new IS NULL`` in one transaction.

Printed for each: total time, the application's write latency p50/p99 while it
ran, the longest row-lock hold (the longest batch's transaction; the whole
statement for the single UPDATE) and the replica's largest replay delay and
byte lag (sampled every 100 ms). Goals: the application's write p99 during the
backfill at most twice its idle p99; the longest lock hold at most twice the
target batch time; the total at most twice the single UPDATE's. Asserts nothing.

    .venv/bin/python bench/backfill.py [--rows 1000000] [--batch-time 200ms] [--max-lag 1s]
        [--recycled-wal]

Always an embedded PostgreSQL in a temporary directory (the replica is a clone of it).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit.sqlite_store import SqliteEventStore
from commands.backfill.engine import Engine
from commands.backfill.ledger import BackfillLedger
from commands.backfill.preflight import check_backfill
from commands.config.backfill import BackfillSpec
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server
from commands.postgres.replica_lag import replica_lag
from commands.state.vocabulary import EventKind
from commands.units import format_bytes, format_duration, parse_duration
from tests.support.app_waits import AppWaits, PhaseWaits
from tests.support.checks_support import url_text
from tests.support.replica import on_replica, streaming_replica, wait_until_caught_up

SET, WHERE = "new = old", "new IS NULL AND old IS NOT NULL"
IDLE_S = 5.0


def build_items(database: DatabaseUrl, rows: int, *, recycled_wal: bool = False) -> None:
    """A fresh ``items``: the same physical table for every contender. ``recycled_wal`` (a
    diagnostic): 1 GB of throwaway WAL and ``min_wal_size`` 2GB before its checkpoint, so
    pg_wal holds segments to recycle, as a busy server's does, and no batch has to create
    one (zero-filled and flushed while it holds the WAL write lock)."""
    with connect(database) as conn:
        conn.execute("DROP TABLE IF EXISTS items")
        conn.execute(
            "CREATE TABLE items (id bigint PRIMARY KEY, old text, new text, payload text,"
            " updated_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO items (id, old, payload) SELECT g, md5(g::text), repeat('x', 80)"
            " FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("VACUUM ANALYZE items")
        if recycled_wal:
            conn.execute("ALTER SYSTEM SET min_wal_size = '2GB'")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(
                "CREATE TABLE junk AS SELECT g, repeat('y', 200) t FROM generate_series(1, 3e6) g"
            )
            conn.execute("DROP TABLE junk")
        conn.execute("CHECKPOINT")


@dataclass
class Phase:
    """What one contender did: its window, and what was measured in it."""

    name: str
    started: float = 0.0
    ended: float = 0.0
    lock_hold_s: float | None = None
    writes: list[float] = dataclasses.field(default_factory=list)
    max_delay_s: float = 0.0
    max_bytes: int = 0
    waits: PhaseWaits = dataclasses.field(default_factory=PhaseWaits)

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    def percentile(self, share: float) -> float:
        ordered = sorted(self.writes)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


class LagPoller:
    """The replica's replay delay and byte lag every 100 ms, the largest kept."""

    def __init__(self, primary: DatabaseUrl, replica: DatabaseUrl, phase: Phase) -> None:
        self.primary, self.replica, self.phase = primary, replica, phase
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> LagPoller:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _poll(self) -> None:
        with connect(self.primary) as primary, connect(self.replica) as replica:
            while not self.stop.wait(0.1):
                lag = replica_lag(primary, replica)
                self.phase.max_delay_s = max(self.phase.max_delay_s, lag.delay_s or 0.0)
                self.phase.max_bytes = max(self.phase.max_bytes, lag.lag_bytes or 0)


def with_application(
    database: DatabaseUrl, scratch: Path, phase: Phase, work: Callable[[], None], app_options: str
) -> None:
    """Run ``work`` while the simulated application writes; its writes in the window kept,
    and what its sessions waited on."""
    out = scratch / f"{phase.name}.latencies"
    app = subprocess.Popen(
        [sys.executable, "-m", "tests.support.app_process", "items-both", "--out", str(out)],
        env={**os.environ, "APP_DATABASE_URL": url_text(database), "PGOPTIONS": app_options},
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert app.stdout is not None and app.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # its connections open and warm
    with AppWaits(database) as waits:
        phase.started = time.time()
        work()
        phase.ended = time.time()
    phase.waits = waits.result
    app.terminate()
    app.wait(60)
    for line in out.read_text().splitlines():
        start, latency = map(float, line.split())
        if phase.started <= start <= phase.ended:
            phase.writes.append(latency)


def run_backfill(
    database: DatabaseUrl, replica: DatabaseUrl, spec: BackfillSpec, phase: Phase, scratch: Path
) -> None:
    ledger = BackfillLedger(SqliteEventStore(scratch / "state.sqlite3"))
    with connect(database) as conn:
        estimate = check_backfill(conn, spec)
    run = ledger.ask(target="bench", spec=spec, estimate=estimate, requester="U0ALICE")
    ledger.approve(run.id, approver="U0BOB")
    done = Engine(ledger, database, replica=replica).run(run.id)
    phase.lock_hold_s = done.progress.longest_batch_s
    holds = ledger.store.events(request_id=run.id, kinds=[EventKind.BACKFILL_HELD])
    print(
        f"  backfill {done.state.value}: {done.progress.batches} batches,"
        f" {done.progress.rows:,} rows, held {len(holds)} time(s) for"
        f" {format_duration(done.progress.held_s)},"
        f" {done.progress.waiters} application write(s) seen waiting on a batch,"
        f" pre-flight estimate {format_duration(estimate.seconds or 0)}"
        f" and {format_bytes(estimate.wal_bytes or 0)} of WAL"
        f" (min_wal_size {format_bytes(estimate.min_wal_size or 0)})",
        flush=True,
    )


def run_single_update(database: DatabaseUrl, phase: Phase) -> None:
    with connect(database) as conn:
        began = time.monotonic()
        conn.execute(f"UPDATE items SET {SET} WHERE {WHERE}")
        phase.lock_hold_s = time.monotonic() - began


def measure(
    name: str,
    database: DatabaseUrl,
    replica: DatabaseUrl,
    scratch: Path,
    work: Callable[[Phase], None],
    *,
    app_options: str = "",
) -> Phase:
    phase = Phase(name)
    wait_until_caught_up(database, replica, seconds=600)
    with LagPoller(database, replica, phase):
        with_application(database, scratch, phase, lambda: work(phase), app_options)
    print(f"  {name}: {phase.seconds:.1f} s, {len(phase.writes):,} application writes", flush=True)
    return phase


def report(args: argparse.Namespace, idle: Phase, backfill: Phase, single: Phase) -> None:
    def ms(seconds: float) -> str:
        return format_duration(seconds)

    rows = [
        ("total time", "-", ms(backfill.seconds), ms(single.seconds)),
        (
            "app write p50",
            ms(idle.percentile(0.5)),
            ms(backfill.percentile(0.5)),
            ms(single.percentile(0.5)),
        ),
        (
            "app write p99",
            ms(idle.percentile(0.99)),
            ms(backfill.percentile(0.99)),
            ms(single.percentile(0.99)),
        ),
        (
            "app writes",
            f"{len(idle.writes):,}",
            f"{len(backfill.writes):,}",
            f"{len(single.writes):,}",
        ),
        ("longest row-lock hold", "-", ms(backfill.lock_hold_s or 0), ms(single.lock_hold_s or 0)),
        (
            "replica max replay delay",
            ms(idle.max_delay_s),
            ms(backfill.max_delay_s),
            ms(single.max_delay_s),
        ),
        (
            "replica max byte lag",
            format_bytes(idle.max_bytes),
            format_bytes(backfill.max_bytes),
            format_bytes(single.max_bytes),
        ),
    ]
    print()
    print(
        f"{args.rows:,} rows; batch_time {args.batch_time}, max_replica_lag {args.max_lag}"
        + (", WAL segments recycled" if args.recycled_wal else "")
    )
    print(f"{'':<26}{'idle':>14}{'backfill':>14}{'one UPDATE':>14}")
    for label, *cells in rows:
        print(f"{label:<26}" + "".join(f"{cell:>14}" for cell in cells))
    batch_time = parse_duration(args.batch_time)
    goals = [
        ("app write p99 <= 2x idle p99", backfill.percentile(0.99), 2 * idle.percentile(0.99)),
        ("longest lock hold <= 2x batch_time", backfill.lock_hold_s or 0, 2 * batch_time),
        ("total <= 2x one UPDATE", backfill.seconds, 2 * single.seconds),
    ]
    print()
    for label, value, limit in goals:
        verdict = "meets" if value <= limit else "misses"
        print(f"goal: {label}: {verdict} ({ms(value)} against {ms(limit)})")
    print()
    print("where the application's time went (its sessions sampled every 10 ms):")
    for phase in (idle, backfill, single):
        print(f"  {phase.name}:")
        for label, value in phase.waits.lines(len(phase.writes)):
            print(f"    {label:<30}{value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-time", default="200ms")
    parser.add_argument("--max-lag", default="1s")
    parser.add_argument("--nice-ratio", type=float, default=BackfillSpec.nice_ratio)
    parser.add_argument("--max-batch-size", type=int, default=BackfillSpec.max_batch_size)
    parser.add_argument(
        "--recycled-wal",
        action="store_true",
        help="WAL segments ready to recycle before each contender (a diagnostic: a busy"
        " server's pg_wal; the fresh server's batches create theirs)",
    )
    parser.add_argument(
        "--app-options",
        default="",
        help="PGOPTIONS for the application's sessions (a diagnostic:"
        " '-c synchronous_commit=off' takes the WAL flush out of its commits)",
    )
    args = parser.parse_args()
    spec = BackfillSpec(
        name="bench",
        table="items",
        key="id",
        set=SET,
        where=WHERE,
        batch_time=parse_duration(args.batch_time),
        max_replica_lag=parse_duration(args.max_lag),
        max_batch_time=2 * parse_duration(args.batch_time),
        nice_ratio=args.nice_ratio,
        max_batch_size=args.max_batch_size,
    )
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as scratch_dir:
        scratch = Path(scratch_dir)
        server = start_embedded_server(scratch / "pg" / "data", preload=())
        database = ensure_database(server, "bench_backfill")
        build_items(database, args.rows, recycled_wal=args.recycled_wal)
        with streaming_replica(server) as standby:
            replica = on_replica(standby, database)
            print(f"{args.rows:,} rows built; measuring idle, backfill, one UPDATE", flush=True)
            options = args.app_options
            idle = measure(
                "idle",
                database,
                replica,
                scratch,
                lambda p: time.sleep(IDLE_S),
                app_options=options,
            )
            backfill = measure(
                "backfill",
                database,
                replica,
                scratch,
                lambda p: run_backfill(database, replica, spec, p, scratch),
                app_options=options,
            )
            build_items(database, args.rows, recycled_wal=args.recycled_wal)
            single = measure(
                "one UPDATE",
                database,
                replica,
                scratch,
                lambda p: run_single_update(database, p),
                app_options=options,
            )
    report(args, idle, backfill, single)


if __name__ == "__main__":
    main()
