"""Targets, databases and stand-in tools for the backup and restore tests."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from psycopg import sql

from audit.sqlite_store import SqliteEventStore
from audit.store import EventStore
from commands.config.targets_file import BUNDLED_MIGRATIONS, parse_config
from commands.demo.data import fill_demo_data
from commands.migration.planning import plan
from commands.migration.script.revision_graph import Direction
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.pg_tools import embedded_bin_dir
from commands.targets import TargetHandle
from tests.support.applying import run_plan
from tests.support.databases import create_database, drop_database

# revisions of the bundled project
BEFORE_TRANSLATIONS = "5a7c1e3f0b54"  # 0005: the table segment_translations comes in 0006


def target_toml(**settings: object) -> str:
    """A ``[targets.app]`` table: the bundled project on $APP_DATABASE_URL, or these keys."""
    keys = {
        "database_url_env": "APP_DATABASE_URL",
        "script_location": BUNDLED_MIGRATIONS,
        "approvers": ["U0BOB"],
        **settings,
    }
    return "[targets.app]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in keys.items())


def make_target(database: DatabaseUrl, base: Path, **settings: object) -> TargetHandle:
    """Target ``app`` of ``target_toml`` on ``database``, relative paths from ``base``."""
    config = parse_config(target_toml(**settings), source="test.toml", base=base)
    return TargetHandle(config=config.target("app"), database=database)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        value = value.as_posix()
    return json.dumps(value)


def migrate(
    handle: TargetHandle, to: str | None = None, direction: Direction = Direction.UP
) -> None:
    """Upgrade to ``to`` (default head), or downgrade to it."""
    for _ in run_plan(handle, plan(handle, direction=direction, to=to, with_sql=False)):
        pass


def content_digest(database: DatabaseUrl) -> dict[str, str]:
    """md5 of every table's rows in a stable order: equal digests, equal data."""
    with connect(database) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        digests = {}
        for (table,) in tables:
            query = sql.SQL(
                "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} AS t"
            ).format(sql.Identifier(table))
            row = conn.execute(query).fetchone()
            assert row is not None
            digests[table] = row[0]
    return digests


def stepping_clock(start: datetime | None = None, step: timedelta = timedelta(minutes=1)):
    """A clock that moves on by ``step`` at each reading (distinct backup names)."""
    current = [start or datetime(2030, 1, 1, tzinfo=UTC)]

    def clock() -> datetime:
        current[0] += step
        return current[0]

    return clock


def event_kinds(store: EventStore, target: str = "app") -> list[str]:
    return [event.kind for event in store.events(target=target)]


def fake_pg_bin(folder: Path, pg_dump_script: str) -> Path:
    """A bin folder whose pg_dump is ``pg_dump_script`` (sh; $REAL is the real pg_dump)
    and whose pg_restore is the real one: a stand-in for a broken or old pg_dump."""
    folder.mkdir(parents=True, exist_ok=True)
    real = embedded_bin_dir()
    script = folder / "pg_dump"
    script.write_text(f'#!/bin/sh\nREAL="{real / "pg_dump"}"\n{pg_dump_script}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (folder / "pg_restore").symlink_to(real / "pg_restore")
    return folder


def blocked_on_stdin(pid: int) -> bool:
    """The process sleeps in read(2) on its standard input (x86-64 Linux: syscall 0, fd 0)."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().split()[:2] == ["0", "0x0"]
    except OSError:
        return False


def bytes_read(pid: int) -> int:
    """Bytes the process has read so far, from anything (``rchar``)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/io has no rchar")


def files_in(folder: Path) -> list[str]:
    """Every entry of ``folder``, hidden ones included ([] if it does not exist)."""
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def scratch_databases(server: DatabaseUrl) -> Iterator[str]:
    with connect(server) as conn:
        for (name,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE '%\\_verify\\_%'"
        ):
            yield name


@pytest.fixture(scope="module")
def populated_db(
    pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseUrl]:
    """A database at head with a few thousand demo rows, shared by a module's tests
    (which must not change it)."""
    database = create_database(pg_server, "bk")
    migrate(make_target(database, tmp_path_factory.mktemp("populated")))
    fill_demo_data(database, rows=4000)
    yield database
    drop_database(pg_server, database)


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    """An audit log of this test's own."""
    return SqliteEventStore(tmp_path / "state.sqlite3")
