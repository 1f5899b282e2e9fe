"""Benchmark: what a migration that needs ACCESS EXCLUSIVE does to live writers.

A pool of writers does small INSERT transactions on a hot table, timing each
one. A report job holds a conflicting lock (ACCESS SHARE, idle in a
transaction) for BLOCK seconds after the migration first asks for its lock.
The same revision (ALTER TABLE hot ADD COLUMN) is run:

1. by plain ``alembic upgrade head``: it waits for the lock as long as it
   takes, and every writer queues behind it;
2. by migrate-bot's pipeline (a break-glass request: pre-flight, backup,
   then the revision under lock_timeout and lock retries).

Prints, for each, the writers' max and p99 latency and the writes done while
the lock was held, and the ratio of the max stalls. Goal: the pipeline's worst
stall ≤ lock_timeout + 0.5 s, while plain Alembic stalls writers for the whole
blocking period. Asserts nothing.

    .venv/bin/python bench/lock_impact.py [--block 10] [--writers 8] [--lock-timeout 2s]

Uses $MIGRATE_BOT_TEST_DATABASE_URL's server when set, else an embedded
PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.config.targets_file import parse_config
from commands.migration.runtime.runner import AlembicRunner
from commands.pipeline import RunContext, RunUpdate, run_request
from commands.pipeline.plans import plan_request
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server
from commands.requests import open_requests
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import RequestKind
from commands.targets import open_target
from commands.units import parse_duration

ENV_PY = """
import os
from alembic import context
from sqlalchemy import create_engine, pool

url = context.config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
with create_engine(url, poolclass=pool.NullPool).connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
"""
REVISION = '''"""Add hot.c (needs ACCESS EXCLUSIVE on hot)."""
from alembic import op

revision = "alter1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """A catalog-only change: instant once the lock is granted."""
    op.execute("ALTER TABLE hot ADD COLUMN c int")


def downgrade() -> None:
    """Drop the column."""
    op.execute("ALTER TABLE hot DROP COLUMN c")
'''


@dataclass
class Writers:
    """Writer threads; each INSERT's start and latency are kept."""

    database: DatabaseUrl
    threads: int
    samples: list[tuple[float, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        for _ in range(self.threads):
            threading.Thread(target=self._write, daemon=True).start()

    def _write(self) -> None:
        with connect(self.database, application_name="bench-writer") as conn:
            while not self.stop.is_set():
                began = time.monotonic()
                conn.execute("INSERT INTO hot (v) VALUES (1)")
                self.samples.append((began, time.monotonic() - began))
                time.sleep(0.005)

    def window(self, start: float, end: float) -> list[float]:
        return [lat for began, lat in self.samples if start <= began + lat and began <= end]


class Blocker:
    """A report job idle in a transaction that read ``hot``, released on demand."""

    def __init__(self, database: DatabaseUrl) -> None:
        self.conn = connect(database, autocommit=False, application_name="bench-report-job")
        self.conn.execute("SELECT count(*) FROM hot")
        self.acquired = time.monotonic()

    def release_after(self, seconds: float) -> None:
        def release() -> None:
            time.sleep(seconds)
            self.conn.rollback()
            self.conn.close()

        threading.Thread(target=release, daemon=True).start()


@dataclass
class Result:
    name: str
    latencies: list[float]
    duration_s: float
    outcome: str

    def line(self) -> str:
        lat = sorted(self.latencies)
        p99 = lat[int(len(lat) * 0.99) - 1] if lat else 0.0
        return (
            f"{self.name:<16} max {max(lat, default=0):6.2f} s  p99 {p99:6.3f} s  "
            f"p50 {statistics.median(lat) if lat else 0:6.4f} s  writes {len(lat):6d}  "
            f"migration {self.duration_s:5.1f} s  ({self.outcome})"
        )


def create_hot(database: DatabaseUrl) -> None:
    with connect(database) as conn:
        conn.execute("DROP TABLE IF EXISTS hot, alembic_version")
        conn.execute("CREATE TABLE hot (id bigserial PRIMARY KEY, v int)")
        conn.execute("INSERT INTO hot (v) SELECT 1 FROM generate_series(1, 10000)")


def reset(database: DatabaseUrl) -> None:
    """Back to before the revision, while the writers keep writing."""
    with connect(database) as conn:
        conn.execute("ALTER TABLE hot DROP COLUMN IF EXISTS c")
        conn.execute("DROP TABLE IF EXISTS alembic_version")


def wait_until_waiting(database: DatabaseUrl, timeout: float = 30) -> None:
    """Until an ALTER on hot waits for its lock (plain Alembic has asked for it)."""
    deadline = time.monotonic() + timeout
    with connect(database) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query ILIKE 'ALTER TABLE hot%%'"
            ).fetchone()
            if row:
                return
            time.sleep(0.02)
    raise RuntimeError("plain alembic never asked for its lock")


def plain_alembic(project: Path, database: DatabaseUrl, writers: Writers, block: float) -> Result:
    reset(database)
    blocker = Blocker(database)
    env = {**os.environ, "DATABASE_URL": database.for_bot_sqlalchemy()}
    alembic = str(Path(sys.executable).with_name("alembic"))
    started = time.monotonic()
    process = subprocess.Popen(
        [alembic, "-c", str(project / "alembic.ini"), "upgrade", "head"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_waiting(database)
    blocker.release_after(block)
    code = process.wait()
    ended = time.monotonic()
    return Result(
        "plain alembic", writers.window(blocker.acquired, ended), ended - started, f"exit {code}"
    )


def pipeline(
    project: Path,
    *,
    database: DatabaseUrl,
    writers: Writers,
    block: float,
    lock_timeout: str,
    state: Path,
) -> Result:
    reset(database)
    os.environ["BENCH_DATABASE_URL"] = database.text()
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "{state / "state.sqlite3"}"
        [targets.bench]
        database_url_env = "BENCH_DATABASE_URL"
        alembic_config = "{project / "alembic.ini"}"
        approvers = ["U0BOB"]
        checklist = []
        backup = "file://{state / "backups"}"
        lock_timeout = "{lock_timeout}"
        lock_retry_budget = "{max(block * 3, 60):g}s"
        """
    )
    config = parse_config(text, source="bench", base=state)
    store, requests = open_audit_log(config.bot.state), open_requests(config)
    handle = open_target(config.target("bench"))
    with AlembicRunner.for_target(handle).session() as session:
        planned = plan_request(handle, session, kind=RequestKind.UPGRADE, goal="head", store=store)
    request = requests.create_break_glass(
        kind=RequestKind.UPGRADE,
        target="bench",
        operator="os:bench",
        fingerprint=planned.fingerprint,
        goal="head",
    )
    blocker = Blocker(database)
    released = threading.Event()

    def on_update(update: RunUpdate) -> None:
        if update.data.get("event") == "attempt" and not released.is_set():
            released.set()
            blocker.release_after(block)

    started = time.monotonic()
    context = RunContext(config=config, requests=requests, store=store)
    outcome = run_request(context, request.id, on_update=on_update)
    ended = time.monotonic()
    return Result(
        "migrate-bot", writers.window(blocker.acquired, ended), ended - started, outcome.state.value
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--block", type=float, default=10.0, help="seconds the report job holds its lock"
    )
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--lock-timeout", default="2s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as scratch:
        root = Path(scratch)
        configured = os.environ.get("MIGRATE_BOT_TEST_DATABASE_URL")
        server = DatabaseUrl.parse(configured) if configured else start_embedded_server(root / "pg")
        database = ensure_database(server, "bench_lock_impact")
        project = root / "project"
        (project / "versions").mkdir(parents=True)
        (project / "env.py").write_text(ENV_PY)
        (project / "versions" / "alter1.py").write_text(REVISION)
        (project / "alembic.ini").write_text(f"[alembic]\nscript_location = {project}\n")
        create_hot(database)
        writers = Writers(database, args.writers)
        writers.start()
        time.sleep(1)
        results = [
            plain_alembic(project, database, writers, args.block),
            pipeline(
                project,
                database=database,
                writers=writers,
                block=args.block,
                lock_timeout=args.lock_timeout,
                state=root,
            ),
        ]
        writers.stop.set()
    print(
        f"blocking period {args.block:g} s, {args.writers} writers,"
        f" pipeline lock_timeout {args.lock_timeout}"
    )
    for result in results:
        print(result.line())
    plain, bot = (max(r.latencies, default=0.0) for r in results)
    budget = parse_duration(args.lock_timeout) + 0.5
    verdict = "meets" if bot <= budget else "misses"
    print(f"max stall ratio (migrate-bot / plain alembic): {bot / plain:.3f}")
    print(f"goal: migrate-bot's worst stall <= {budget:g} s: {verdict} ({bot:.2f} s)")


if __name__ == "__main__":
    main()
