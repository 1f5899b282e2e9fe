"""Every way a backup to a local folder fails: a clear error, a ``backup_failed``
event, nothing left behind, and an exception so no migration can follow."""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg import sql

from audit.store import EventStore
from commands.backup.listing import list_backups
from commands.backup.records import BackupError
from commands.backup.storage import StorageError
from commands.backup.take import take_backup
from commands.errors import MigrateBotError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.pg_tools import PgToolsError, embedded_bin_dir
from tests.support.backup_targets import event_kinds, fake_pg_bin, files_in, make_target


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a small tmpfs with the given options (a disk that really fills up, or a
    read-only one); skips where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


@pytest.fixture
def limited_role(populated_db: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """``populated_db`` as a login role that may read alembic_version and nothing else."""
    role, password = f"limited_{secrets.token_hex(4)}", secrets.token_hex(8)
    with connect(populated_db) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("GRANT SELECT ON alembic_version TO {}").format(sql.Identifier(role)))
    yield dataclasses.replace(populated_db, username=role, password=password)
    with connect(populated_db) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def fail_backup(
    database: DatabaseUrl,
    tmp_path: Path,
    store: EventStore,
    *,
    error: type[MigrateBotError],
    match: str,
    step: str,
    tool_dirs: list[Path] | None = None,
    **settings: object,
) -> None:
    """Take a backup that must fail so; check it is recorded and lists nothing."""
    settings.setdefault("backup", "file://backups")
    handle = make_target(database, tmp_path, **settings)
    with pytest.raises(error, match=match):
        take_backup(handle, store=store, actor="U0ALICE", tool_dirs=tool_dirs)
    kinds = event_kinds(store)  # backup_writing when it failed once a file was begun
    assert kinds in (
        ["backup_started", "backup_failed"],
        ["backup_started", "backup_writing", "backup_failed"],
    )
    for writing in store.events(kinds=["backup_writing"]):
        assert not Path(writing.data["uri"].removeprefix("file://")).exists()
    failed = store.events(kinds=["backup_failed"])[0].data
    assert failed["step"] == step and failed["error"]
    assert list_backups(store, "app") == []


def test_no_pg_dump_anywhere(populated_db: DatabaseUrl, tmp_path: Path, store: EventStore) -> None:
    (tmp_path / "empty").mkdir()
    fail_backup(
        populated_db,
        tmp_path,
        store,
        error=PgToolsError,
        match=r"no pg_dump of PostgreSQL 18 or later .*empty/pg_dump: not found",
        step="tools",
        tool_dirs=[tmp_path / "empty"],
    )
    assert files_in(tmp_path / "backups") == []


def test_a_pg_dump_older_than_the_server(
    populated_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    old = fake_pg_bin(tmp_path / "pg15", 'echo "pg_dump (PostgreSQL) 15.18"')
    fail_backup(
        populated_db,
        tmp_path,
        store,
        error=PgToolsError,
        match=r"for the server's 18\.\d+ \(.*pg15/pg_dump is 15\.18\)",
        step="tools",
        pg_bin_dir=old,
        tool_dirs=[old],
    )


def test_pg_dump_failing(limited_role: DatabaseUrl, tmp_path: Path, store: EventStore) -> None:
    fail_backup(
        limited_role,
        tmp_path,
        store,
        error=BackupError,
        match=r"pg_dump failed: .*permission denied for table",
        step="dump",
    )
    assert files_in(tmp_path / "backups") == []


@pytest.mark.parametrize(
    ("script", "match"),
    [
        ('[ "$1" = --version ] && exec "$REAL" --version; exit 0', "not a readable archive"),
        (
            '[ "$1" = --version ] && exec "$REAL" --version; "$REAL" "$@" | head -c 40000',
            "does not read back in full",
        ),
    ],
    ids=["empty", "truncated"],
)
def test_an_empty_or_truncated_dump_is_caught_by_verification(
    populated_db: DatabaseUrl, tmp_path: Path, store: EventStore, script: str, match: str
) -> None:
    """pg_dump exits 0 with nothing, or with its first 40 kB: only reading it back tells."""
    broken = fake_pg_bin(tmp_path / "broken", script)
    fail_backup(
        populated_db,
        tmp_path,
        store,
        error=BackupError,
        match=match,
        step="dump",
        tool_dirs=[broken],
    )
    assert files_in(tmp_path / "backups") == []


def test_a_destination_that_is_not_a_folder(
    populated_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    fail_backup(
        populated_db,
        tmp_path,
        store,
        error=StorageError,
        match=r"cannot write backups in /dev/null/backups: it is not a folder that can be created",
        step="destination",
        backup="file:///dev/null/backups",
    )


def test_a_read_only_destination(
    populated_db: DatabaseUrl,
    tmp_path: Path,
    store: EventStore,
    mount_tmpfs: Callable[[str], Path],
) -> None:
    read_only = mount_tmpfs("ro,size=1m")
    fail_backup(
        populated_db,
        tmp_path,
        store,
        error=StorageError,
        match="it is not writable",
        step="destination",
        backup=f"file://{read_only}",
    )


def test_a_destination_that_fills_up_mid_dump(
    populated_db: DatabaseUrl,
    tmp_path: Path,
    store: EventStore,
    mount_tmpfs: Callable[[str], Path],
) -> None:
    full = mount_tmpfs("size=128k")
    fail_backup(
        populated_db,
        tmp_path,
        store,
        error=StorageError,
        match=f"cannot write the backup in {full}: the disk is full",
        step="dump",
        backup=f"file://{full}",
    )
    assert files_in(full) == []


def test_the_real_pg_dump_is_used_when_the_broken_one_is_not_configured(
    populated_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    """The stand-ins above really are what failed: the same backup with the wheel's tools works."""
    handle = make_target(populated_db, tmp_path, backup="file://backups")
    record = take_backup(handle, store=store, actor="U0ALICE", tool_dirs=[embedded_bin_dir()])
    assert files_in(tmp_path / "backups") == [record.name]
