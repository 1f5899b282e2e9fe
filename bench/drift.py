"""Benchmark: the drift check on a wide schema with a long history, first and cached.

A generated project of 120 revisions builds 300 tables (identity keys,
foreign keys, defaults, checks, indexes, comments, a view every tenth table,
a trigger every thirtieth). A database is brought to head with plain
Alembic; then, side by side in one run:

- plain ``alembic upgrade head`` on an empty database (the whole process):
  what the replay costs in Alembic alone, done by hand;
- the first drift check (``measure_drift`` with an empty cache): a scratch
  database, the project's own Alembic child replaying every revision, both
  catalogs read and compared;
- the cached check (the same, the replayed schema from the cache);
- the live catalog read alone.

Goals (issue 25): cached check ≤ 2 s; first check ≤ the replay's own Alembic
time + 2 s. Prints medians beside the goals; asserts nothing.

    .venv/bin/python bench/drift.py [--revisions 120] [--tables 300] [--runs 3]

Uses $MIGRATE_BOT_TEST_DATABASE_URL's server when set, else an embedded
PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.migration.runtime.runner import AlembicRunner, ProjectState
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server
from commands.schema.catalog import read_schema
from commands.schema.drift import measure_drift
from commands.schema.drift_report import DriftReport, DriftState
from commands.schema.replay_cache import ReplayCache
from commands.targets import TargetHandle
from tests.support.alembic_projects import wide_history
from tests.support.generated_project import generated_project, handle_for

T = TypeVar("T")
CACHED_GOAL_S = 2.0
FIRST_OVER_ALEMBIC_GOAL_S = 2.0


def plain_upgrade(config: Path, url: DatabaseUrl) -> float:
    """``python -m alembic upgrade head`` on ``url``, as a user runs it; its wall time."""
    env = {**os.environ, "DATABASE_URL": url.text()}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(config), "upgrade", "head"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=config.parent,
    )
    took = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"plain alembic failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return took


def timed(work: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=120)
    parser.add_argument("--tables", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="migrate-bot-drift-") as scratch:
        root = Path(scratch)
        configured = os.environ.get("MIGRATE_BOT_TEST_DATABASE_URL")
        server = DatabaseUrl.parse(configured) if configured else start_embedded_server(root / "pg")
        history = wide_history(args.revisions, args.tables)
        location = generated_project(root / "project", args.revisions, history)
        config = root / "project" / "alembic.ini"
        live = ensure_database(server, f"bench_drift_{secrets.token_hex(3)}")
        plain_upgrade(config, live)
        handle = handle_for(live, location, root)
        state = AlembicRunner.for_target(handle).inspect()
        runs = [
            one_run(config, server, handle, state, root / f"cache-{n}") for n in range(args.runs)
        ]
        objects = len(read_schema(live))
    print_report(args, runs, objects)
    return 0


def one_run(
    config: Path, server: DatabaseUrl, handle: TargetHandle, state: ProjectState, cache: Path
) -> dict[str, float | DriftReport]:
    """Plain Alembic on an empty database, then the first check, the cached one, a read."""
    plain = plain_upgrade(config, ensure_database(server, f"bench_plain_{secrets.token_hex(3)}"))
    replays = ReplayCache(cache)
    first_s, first = timed(lambda: measure_drift(handle, state, cache=replays))
    cached_s, again = timed(lambda: measure_drift(handle, state, cache=replays))
    read_s, _ = timed(lambda: read_schema(handle.database))
    return {
        "plain": plain,
        "first": first_s,
        "alembic": first.timings["alembic_s"],
        "replay": first.timings["history_s"],
        "cached": cached_s,
        "read": read_s,
        "report": again,
    }


def print_report(
    args: argparse.Namespace, runs: list[dict[str, float | DriftReport]], objects: int
) -> None:
    def median(name: str) -> float:
        return statistics.median(float(run[name]) for run in runs)  # type: ignore[arg-type]

    report = runs[-1]["report"]
    assert isinstance(report, DriftReport)
    plain_s, first_s, cached_s = median("plain"), median("first"), median("cached")
    alembic_inside = median("alembic")
    print(
        f"drift check: {args.tables} tables, {args.revisions} revisions ({objects} schema"
        f" objects), {args.runs} run(s), medians; the database is {report.state.value.upper()}"
    )
    print(f"  plain alembic upgrade head, empty database   {plain_s:7.2f} s")
    print(f"    (the replay's revisions inside Alembic      {alembic_inside:7.2f} s)")
    print(
        f"  first check (replay + both catalogs)         {first_s:7.2f} s"
        f"   plain alembic + {first_s - plain_s:.2f} s (goal <= + {FIRST_OVER_ALEMBIC_GOAL_S} s)"
    )
    print(
        f"  cached check                                 {cached_s:7.2f} s"
        f"   (goal <= {CACHED_GOAL_S} s)"
    )
    print(f"  live catalog read alone                      {median('read'):7.2f} s")
    print(
        f"  (first check's replay: scratch database, child, revisions, catalog read, drop"
        f" {median('replay'):.2f} s)"
    )
    if report.state is not DriftState.OK:
        print("  differences:", *report.lines[:5], sep="\n    ")


if __name__ == "__main__":
    sys.exit(main())
