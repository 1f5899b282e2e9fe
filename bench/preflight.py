"""Benchmark: a full pre-flight (lint + every check, no rehearsal) on two projects.

1. the bundled project at the revision before the risky one, with demo rows;
2. a generated project of 100 real revision files, all pending.

Goals: under 3 s and under 10 s. Prints the figures; asserts nothing.

    .venv/bin/python bench/preflight.py [--runs 5] [--rows 20000]

Uses $MIGRATE_BOT_TEST_DATABASE_URL's server when set, else an embedded
PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.checks import run_preflight
from commands.config.targets_file import BUNDLED_MIGRATIONS
from commands.demo.data import fill_demo_data
from commands.migration.planning import plan
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server
from commands.targets import TargetHandle
from tests.support.applying import run_plan
from tests.support.generated_project import generated_project, handle_for

GENERATED = 100


def timed(handle: TargetHandle, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        report = run_preflight(handle)
        times.append(time.perf_counter() - started)
    checks = ", ".join(f"{r.name}={r.verdict.value}" for r in report.results)
    print(f"    last report: {report.verdict.value}; {checks}")
    print(f"    pending: {len(report.plan.revisions) if report.plan else 0} revision(s)")
    return times


def show(label: str, times: list[float], goal: float) -> None:
    median = statistics.median(times)
    verdict = "meets" if median < goal else "MISSES"
    print(
        f"{label}: median {median:.2f} s, best {min(times):.2f} s, worst {max(times):.2f} s"
        f" over {len(times)} runs ({verdict} the {goal:.0f} s goal)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=20_000, help="demo segments (bundled case)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="migrate-bot-bench-") as scratch:
        root = Path(scratch)
        configured = os.environ.get("MIGRATE_BOT_TEST_DATABASE_URL")
        server = DatabaseUrl.parse(configured) if configured else start_embedded_server(root / "pg")

        bundled_db = ensure_database(server, f"bench_bundled_{secrets.token_hex(3)}")
        bundled = handle_for(bundled_db, BUNDLED_MIGRATIONS, root)
        for _ in run_plan(bundled, plan(bundled, to="c9d0b2f4e165", with_sql=False)):
            pass
        fill_demo_data(bundled_db, rows=args.rows)
        print(f"bundled project at c9d0b2f4e165 with {args.rows:,} segments:")
        show("  full pre-flight, bundled", timed(bundled, args.runs), 3)

        generated_db = ensure_database(server, f"bench_generated_{secrets.token_hex(3)}")
        project = generated_project(root / "generated", GENERATED)
        generated = handle_for(generated_db, project, root)
        print(f"generated project, {GENERATED} revisions pending from base:")
        show(f"  full pre-flight, {GENERATED} revisions", timed(generated, args.runs), 10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
