"""Watching a run from outside: processes, PostgreSQL sessions, backup leftovers, S3 parts.

Kill points are chosen from what these see (a pg_sleep running inside a
revision, a partial file past some size, parts in moto), never from a timer.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from commands.backup.storage.local import PARTIAL_SUFFIX
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.s3_server import FAKE_CREDENTIALS


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid`` (from /proc), with its command name."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if state == "Z":
            continue
        names[int(entry)] = name
        children.setdefault(int(ppid), []).append(int(entry))
    found: dict[int, str] = {}
    stack = list(children.get(pid, []))
    while stack:
        child = stack.pop()
        found[child] = names[child]
        stack += children.get(child, [])
    return found


def command_line(pid: int) -> list[str]:
    """The arguments ``pid`` was started with (empty once it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def alive(pids: dict[int, str]) -> dict[int, str]:
    """Those of ``pids`` still running the same program (zombies count as gone)."""
    left = {}
    for pid, name in pids.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] != "Z" and name in stat:
            left[pid] = name
    return left


def run_in_slices(pid: int, until: Callable[[], bool], slice_s: float = 0.02) -> None:
    """Let the stopped process ``pid`` run ``slice_s`` at a time until ``until()``; it is
    left stopped there. A moment inside a fast process (pg_dump some MiB into its
    dump) is reached this way however loaded the machine, where polling could miss it.
    """
    while not until():
        os.kill(pid, signal.SIGCONT)
        time.sleep(slice_s)
        os.kill(pid, signal.SIGSTOP)


def sleeping_for(database: DatabaseUrl, seconds: float) -> bool:
    """A session on ``database`` has been running ``pg_sleep`` for at least ``seconds``."""
    with connect(database.with_database("postgres")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active'"
            " AND query ILIKE '%%pg_sleep%%' AND pid <> pg_backend_pid()"
            " AND now() - query_start >= make_interval(secs => %s)",
            (database.database, seconds),
        ).fetchone()
    return bool(row and row[0])


def sessions_on(database: DatabaseUrl) -> list[str]:
    """application_name of every other session connected to ``database``."""
    with connect(database.with_database("postgres")) as conn:
        rows = conn.execute(
            "SELECT coalesce(application_name, '') FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database.database,),
        ).fetchall()
    return [row[0] for row in rows]


def scratch_databases(database: DatabaseUrl) -> list[str]:
    """Scratch databases (restore tests, rehearsals) made beside ``database``."""
    with connect(database.with_database("postgres")) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY 1",
            (f"{database.database}_",),
        ).fetchall()
    return [row[0] for row in rows]


def partial_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f".*{PARTIAL_SUFFIX}")) if folder.is_dir() else []


def written_bytes(pid: int) -> int:
    """Bytes process ``pid`` has written so far (``wchar`` of /proc/PID/io): how far a
    pg_dump is into its archive, whatever the bot downstream has compressed or stored."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/io has no wchar line")


def partial_bytes(folder: Path) -> int:
    """Bytes written so far into the partial backup files of ``folder``."""
    total = 0
    for path in partial_files(folder):
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


@dataclass(frozen=True)
class Bucket:
    """A bucket on moto's server, seen through a client of the test's own."""

    name: str
    client: Any

    @classmethod
    def create(cls, endpoint: str, name: str) -> Bucket:
        """A new bucket on the S3 server at ``endpoint`` (moto: any credentials do)."""
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        )
        client.create_bucket(Bucket=name)
        return cls(name, client)

    def open_uploads(self) -> dict[str, str]:
        """Key → upload id of every multipart upload neither completed nor aborted."""
        listed = self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])
        return {u["Key"]: u["UploadId"] for u in listed}

    def parts(self) -> int:
        """Parts uploaded so far into the open uploads."""
        total = 0
        for key, upload_id in self.open_uploads().items():
            listed = self.client.list_parts(Bucket=self.name, Key=key, UploadId=upload_id)
            total += len(listed.get("Parts", []))
        return total

    def objects(self) -> list[str]:
        """Keys of the objects stored (completed uploads)."""
        listed = self.client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return [item["Key"] for item in listed]
