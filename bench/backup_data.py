"""The databases bench/backup.py backs up: the bundled project at head, filled with one of
``DATA_SETS`` (``demo``: text that compresses well; ``entropy``: issue 28's md5 hex
table, which compresses to about a fifth), and the target that backs each one up."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from commands.config.targets_file import BUNDLED_MIGRATIONS, parse_config
from commands.demo.data import fill_demo_data
from commands.migration.planning import plan
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.targets import TargetHandle
from tests.support.applying import run_plan


def target_toml(database_env: str, backup: str, name: str = "bench", **keys: str) -> str:
    lines = [
        f"[targets.{name}]",
        f'database_url_env = "{database_env}"',
        f'script_location = "{BUNDLED_MIGRATIONS.as_posix()}"',
        'approvers = ["U0BENCH"]',
        f'backup = "{backup}"',
        "backup_keep = 100",  # the restores use the first ones
        *(f"{key} = {value}" for key, value in keys.items()),
    ]
    return "\n".join(lines) + "\n"


def handle_for(database: DatabaseUrl, backup: str, **keys: str) -> TargetHandle:
    config = parse_config(
        target_toml("BENCH_DATABASE_URL", backup, **keys), source="<bench>", base=Path.cwd()
    )
    return TargetHandle(config=config.target("bench"), database=database)


ENTROPY_ROWS = 1_500_000
ENTROPY_TABLE = """
CREATE TABLE IF NOT EXISTS payload (id bigint, a text, body text, ts timestamptz);
INSERT INTO payload
SELECT g, md5(g::text), repeat(md5((g * 7)::text), 4), now()
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g;
CREATE INDEX IF NOT EXISTS payload_id_idx ON payload (id);
"""


def fill_demo(database: DatabaseUrl, rows: int) -> None:
    """``rows`` more segments of ``demo-data`` (text that compresses well)."""
    fill_demo_data(
        database,
        rows=rows,
        on_progress=lambda done, total: print(f"  demo-data: {done:,}/{total:,}", file=sys.stderr),
    )


def fill_entropy(database: DatabaseUrl, _rows: int) -> None:
    """Issue 28's table, 1,500,000 more rows of it: md5 hex compresses to about a fifth."""
    with connect(database) as conn:
        row = conn.execute("SELECT to_regclass('payload') IS NOT NULL").fetchone()
        first = 1
        if row is not None and row[0]:
            found = conn.execute("SELECT coalesce(max(id), 0) FROM payload").fetchone()
            first = int(found[0]) + 1 if found else 1
        for statement in ENTROPY_TABLE.split(";\n"):
            if statement.strip():
                conn.execute(statement, {"first": first, "last": first + ENTROPY_ROWS - 1})
        conn.commit()


DATA_SETS: dict[str, Callable[[DatabaseUrl, int], None]] = {
    "demo": fill_demo,
    "entropy": fill_entropy,
}


def build_database(handle: TargetHandle, data: str, rows: int) -> int:
    """Upgrade to head (once) and add the data set's rows; the database's size in bytes."""
    for _ in run_plan(handle, plan(handle, with_sql=False)):
        pass
    started = time.monotonic()
    DATA_SETS[data](handle.database, rows)
    print(f"  filled in {time.monotonic() - started:.1f} s", file=sys.stderr)
    with connect(handle.database) as conn:
        conn.execute("VACUUM ANALYZE")
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])
