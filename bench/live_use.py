"""Benchmark: what the ``live_use`` check and the watch's samples cost on a busy database.

The database holds ``--tables`` tables and pg_stat_statements has recorded two
statements on each: one names ``payload`` (so it passes the text filter and is
parsed with pglast: the worst case), one does not. The pending revision drops
``t0000.payload``, which one of them uses. Printed side by side, in one run:

- a full pre-flight with ``live_use`` switched off (the baseline) and on
  (``live_use_window`` at 1 ms, so the figure is the work, not the wait);
- parsing one recorded statement with pglast (``uses_of``), per statement;
- one watch sample (``sample_usage``: the 500 most called statements and every
  table's scans) and its size in the audit log.

    .venv/bin/python bench/live_use.py [--runs 5] [--tables 1000]

Always an embedded PostgreSQL in a temporary directory (it must load
pg_stat_statements).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.checks import run_preflight
from commands.checks.statement_uses import uses_of
from commands.config.targets_file import parse_config
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server
from commands.postgres.statement_stats import (
    find_statement_stats,
    sample_usage,
    start_statement_stats,
    statements_naming,
)
from commands.targets import TargetHandle, open_target
from tests.support.alembic_projects import ENV_PY
from tests.support.checks_support import upgrade

REVISIONS = {
    "b0001.py": '''"""Many tables."""
from alembic import op

revision = "b0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """{count} tables t0000…"""
    op.execute(
        "DO $$ BEGIN FOR i IN 0..{last} LOOP EXECUTE format("
        "'CREATE TABLE t%s (id int PRIMARY KEY, payload text, n int)', lpad(i::text, 4, '0'));"
        " END LOOP; END $$"
    )


def downgrade() -> None:
    """Nothing to undo in a bench."""
''',
    "b0002.py": '''"""Drop t0000.payload."""
from alembic import op

revision = "b0002"
down_revision = "b0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The change the application still uses."""
    op.execute("ALTER TABLE t0000 DROP COLUMN payload")


def downgrade() -> None:
    """Back."""
    op.execute("ALTER TABLE t0000 ADD COLUMN payload text")
''',
}


def project(root: Path, tables: int) -> Path:
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(ENV_PY)
    (root / "script.py.mako").write_text("")
    for name, text in REVISIONS.items():
        body = text.replace("{count}", str(tables)).replace("{last}", str(tables - 1))
        (root / "versions" / name).write_text(body)
    return root


def handle(database: DatabaseUrl, location: Path, base: Path, keys: str) -> TargetHandle:
    text = (
        textwrap.dedent(
            f"""
        [targets.bench]
        database_url_env = "BENCH_URL"
        script_location = "{location.as_posix()}"
        approvers = ["U0BOB"]
        live_use_window = "1ms"
        """
        )
        + keys
    )
    config = parse_config(text, source="bench.toml", base=base)
    url = database.text()
    return open_target(config.target("bench"), {"BENCH_URL": url})


def timed(target: TargetHandle, runs: int) -> tuple[list[float], str]:
    times, summary = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        report = run_preflight(target)
        times.append(time.perf_counter() - started)
        summary = report.result("live_use").summary
    return times, summary


def line(label: str, times: list[float], unit: str = "s", scale: float = 1.0) -> str:
    median = statistics.median(times) * scale
    return f"  {label:<44} median {median:8.2f} {unit}  (best {min(times) * scale:.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tables", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="migrate-bot-bench-") as scratch:
        root = Path(scratch)
        server = start_embedded_server(root / "pg")
        database = ensure_database(server, "bench_live_use")
        location = project(root / "project", args.tables)
        with_check = handle(database, location, root, "")
        without = handle(database, location, root, '[targets.bench.checks]\nskip = ["live_use"]\n')
        upgrade(with_check, "b0001")
        with connect(database) as conn:
            start_statement_stats(conn)
            for i in range(args.tables):
                conn.execute(f"SELECT payload FROM t{i:04d} WHERE id = %s", (i,))
                conn.execute(f"SELECT n FROM t{i:04d} WHERE id = %s", (i,))
            source = find_statement_stats(conn)
            rows = statements_naming(conn, source, ["payload"])  # type: ignore[arg-type]
            parse = []
            for row in rows:
                started = time.perf_counter()
                uses_of(row.query)
                parse.append(time.perf_counter() - started)
            samples, size = [], 0
            for _ in range(args.runs):
                started = time.perf_counter()
                sample = sample_usage(conn, source)  # type: ignore[arg-type]
                samples.append(time.perf_counter() - started)
                size = len(json.dumps(sample.to_json()))
        print(
            f"{2 * args.tables:,} recorded statements on {args.tables:,} tables;"
            f" {len(rows):,} name the dropped column's name"
        )
        baseline, _ = timed(without, args.runs)
        checked, summary = timed(with_check, args.runs)
        print(line("pre-flight, live_use off (baseline)", baseline))
        print(line("pre-flight, live_use on", checked))
        print(f"  {'':<44} live_use: {summary}")
        print(line("pglast parse of one recorded statement", parse, "ms", 1000))
        print(line("one watch sample", samples, "ms", 1000))
        print(f"  {'one watch sample in the audit log':<44} {size / 1024:8.1f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
