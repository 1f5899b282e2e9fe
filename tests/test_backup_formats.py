"""A backup's formats end to end on a real PostgreSQL with real pg_dump and pg_restore:
pg_dump's own compression (as every backup was before the zstd stream), parallel
restores through a file, and stored files that are not what was recorded."""

from __future__ import annotations

import array
import fcntl
import os
import platform
import termios
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from audit.store import EventStore
from commands.backup.listing import list_backups
from commands.backup.records import ArchiveFormat, BackupError, Step
from commands.backup.restore import restore_backup
from commands.backup.restore_stream import ChecksumMismatchError, RestoreError
from commands.backup.take import take_backup
from commands.demo.data import fill_demo_data
from commands.migration.runtime.runner import AlembicRunner
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.targets import TargetHandle
from tests.support.backup_targets import (
    blocked_on_stdin,
    bytes_read,
    content_digest,
    files_in,
    make_target,
    migrate,
    stepping_clock,
)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def filled(database: DatabaseUrl, tmp_path: Path, **settings: object) -> TargetHandle:
    """Target ``app`` at head with a couple of thousand demo rows, backing up to a folder."""
    handle = make_target(database, tmp_path, backup="file://backups", **settings)
    migrate(handle)
    fill_demo_data(database, rows=2000)
    return handle


def damage(database: DatabaseUrl) -> None:
    """What the restore must undo: rows gone, rows changed."""
    with connect(database) as conn:
        conn.execute("DELETE FROM segments WHERE start_seconds > 100")
        conn.execute("UPDATE videos SET title = 'changed'")


def stored_file(record_uri: str) -> Path:
    return Path(record_uri.removeprefix("file://"))


@pytest.mark.parametrize("compression", ["gzip:1", "none"])
def test_a_backup_in_pg_dumps_own_format_restores_after_the_switch_to_zstd(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore, compression: str
) -> None:
    """Taken as every backup was before the stream (pg_dump compressing, or nothing), and
    recorded as such events were (no format): restored by a target now on zstd."""
    old = filled(fresh_db, tmp_path, backup_compression=compression)
    record = take_backup(old, store=store, actor="U0ALICE")
    assert (record.format, record.compression) == (ArchiveFormat.CUSTOM, compression)
    assert stored_file(record.uri).read_bytes()[:5] == b"PGDMP"
    assert record.archive_size == record.size  # what pg_dump wrote is what was stored
    legacy = {
        k: v for k, v in record.event_data().items() if k not in ("format", "archive_size_bytes")
    }
    store.append(
        kind="backup_succeeded",
        actor="U0ALICE",
        target="app",
        data=legacy | {"backup_id": "old001"},
    )
    [listed] = [r for r in list_backups(store, "app") if r.id == "old001"]
    assert (listed.format, listed.archive_size) == (ArchiveFormat.CUSTOM, None)
    before = content_digest(fresh_db)
    damage(fresh_db)

    now = make_target(fresh_db, tmp_path, backup="file://backups")  # the default: zstd
    result = restore_backup(now, "old001", store=store, actor="U0BOB")

    assert content_digest(fresh_db) == before
    assert result.stamped_from is None and result.tables_checked == len(record.row_counts)
    assert AlembicRunner.for_target(now).current() == record.revisions


@pytest.mark.parametrize("compression", ["zstd:3", "gzip:1"])
def test_restore_jobs_restores_in_parallel_through_a_file_it_removes(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore, compression: str
) -> None:
    """zstd is decompressed into the work folder first; pg_dump's own format is
    restored from where it is stored, its checksum read first."""
    handle = filled(fresh_db, tmp_path, backup_compression=compression, restore_jobs=2)
    record = take_backup(handle, store=store, actor="U0ALICE")
    before = content_digest(fresh_db)
    damage(fresh_db)
    work = tmp_path / "work"
    work.mkdir()
    progress: list[tuple[Step, str]] = []

    result = restore_backup(
        handle,
        record.id,
        store=store,
        actor="U0BOB",
        workdir=work,
        on_progress=lambda p: progress.append((p.step, p.message)),
    )

    assert content_digest(fresh_db) == before
    assert [step for step, _ in progress] == [
        Step.TOOLS,
        Step.RESTORE,
        Step.CHECKSUM,
        Step.REVISION,
        Step.ROW_COUNTS,
    ]
    assert "with 2 jobs, through a file" in progress[1][1]
    assert set(result.durations_s) == {"fetch", "restore", "checks", "total"}
    assert files_in(work) == []


@pytest.mark.parametrize("restore_jobs", [1, 2])
def test_a_damaged_zstd_stream_is_refused_and_changes_nothing(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore, restore_jobs: int
) -> None:
    handle = filled(fresh_db, tmp_path, restore_jobs=restore_jobs)
    record = take_backup(handle, store=store, actor="U0ALICE")
    path = stored_file(record.uri)
    damaged = bytearray(path.read_bytes())
    assert damaged[:4] == ZSTD_MAGIC
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    damage(fresh_db)
    before = content_digest(fresh_db)

    # zstd's own checks name most damage; what decodes into nonsense first stops
    # pg_restore, and then the sha256 of the whole file names it
    with pytest.raises(
        ChecksumMismatchError,
        match=r"(does not decompress \(.*\)|is not the file backed up: .*)[:;] it was changed or",
    ) as refused:
        restore_backup(handle, record.id, store=store, actor="U0BOB")

    assert str(refused.value).endswith("Nothing was changed")
    assert content_digest(fresh_db) == before
    failed = store.events(kinds=["restore_failed"])[0].data
    assert (failed["backup_id"], failed["step"]) == (record.id, "restore")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads x86-64 syscall numbers")
def test_a_damaged_archive_in_pg_dumps_own_format_is_refused_by_its_sha256(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    """A byte flipped inside a gzip archive's data (no zstd checksum to catch it): the
    sha256, known before pg_restore is given the archive's end, refuses it."""
    handle = filled(fresh_db, tmp_path, backup_compression="gzip:1")
    record = take_backup(handle, store=store, actor="U0ALICE")
    path = stored_file(record.uri)
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    damage(fresh_db)
    before = content_digest(fresh_db)

    with pytest.raises(
        ChecksumMismatchError, match=r"is not the file backed up: sha256 .*"
    ) as refused:
        restore_backup(handle, record.id, store=store, actor="U0BOB")

    assert str(refused.value).endswith("Nothing was changed")
    assert content_digest(fresh_db) == before


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads x86-64 syscall numbers")
def test_the_archives_end_waits_for_the_checksum_so_another_archive_never_commits(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    """Another backup's file under the recorded one's name, arriving through a pipe left
    open: it decompresses and would restore perfectly well. pg_restore reads all of it
    but its end, in its transaction, and waits there while the bot waits for the file's
    end to know its sha256; once known, wrong, pg_restore is stopped before it commits."""
    handle = filled(fresh_db, tmp_path)
    clock = stepping_clock()
    wanted = take_backup(handle, store=store, actor="U0ALICE", clock=clock)
    damage(fresh_db)
    other = take_backup(handle, store=store, actor="U0ALICE", clock=clock)
    path = stored_file(wanted.uri)
    path.unlink()
    os.mkfifo(path)
    with connect(fresh_db) as conn:
        conn.execute("DELETE FROM segments")
    before = content_digest(fresh_db)

    with ThreadPoolExecutor(1) as pool:
        restoring = pool.submit(restore_backup, handle, wanted.id, store=store, actor="U0BOB")
        with open(path, "wb") as pipe:  # opens once the restore opens it to read
            pipe.write(stored_file(other.uri).read_bytes())
            pipe.flush()
            restorer = stalled_restorer(pipe.fileno(), restoring)
        with pytest.raises(ChecksumMismatchError, match=r"is not the file backed up.*Nothing was"):
            restoring.result(timeout=120)

    assert not restorer.is_running()
    assert content_digest(fresh_db) == before


def stalled_restorer(pipe: int, restoring: Future[object]) -> psutil.Process:
    """The restore's pg_restore once it waits on its stdin for good: the bot has read the
    whole pipe and pg_restore has read nothing more for a while."""
    deadline = time.monotonic() + 120
    seen: psutil.Process | None = None
    while True:
        assert not restoring.done(), restoring.result()
        children = [c for c in psutil.Process().children() if c.name() == "pg_restore"]
        if seen is not None and seen not in children:
            raise AssertionError("pg_restore ended before the archive's end was released")
        if children:
            seen = children[0]
            unread = array.array("i", [0])
            fcntl.ioctl(pipe, termios.FIONREAD, unread)
            if unread[0] == 0 and blocked_on_stdin(seen.pid):
                progress = bytes_read(seen.pid)
                time.sleep(0.3)
                if blocked_on_stdin(seen.pid) and bytes_read(seen.pid) == progress:
                    return seen
        assert time.monotonic() < deadline, "pg_restore never waited for the archive's end"
        time.sleep(0.05)


def test_tools_without_the_backups_compression_refuse_before_anything_changes(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    """A backup that a pg_dump built with zstd compressed itself, restored where the
    PostgreSQL tools (the embedded wheel's) have no zstd."""
    handle = filled(fresh_db, tmp_path, backup_compression="gzip:1")
    record = take_backup(handle, store=store, actor="U0ALICE")
    data = record.event_data() | {"backup_id": "zstd01", "compression": "zstd:3"}
    store.append(kind="backup_succeeded", actor="U0ALICE", target="app", data=data)
    before = content_digest(fresh_db)

    with pytest.raises(RestoreError, match=r"compressed by pg_dump with zstd.*built without it"):
        restore_backup(handle, "zstd01", store=store, actor="U0BOB")

    assert content_digest(fresh_db) == before


def test_lz4_needs_a_pg_dump_built_with_it(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    handle = filled(fresh_db, tmp_path, backup_compression="lz4:3")
    with pytest.raises(BackupError, match=r'"lz4:3" asks pg_dump 18\.\d+ .* built without'):
        take_backup(handle, store=store, actor="U0ALICE")
    assert store.events(kinds=["backup_failed"])[0].data["step"] == "tools"
    assert files_in(tmp_path / "backups") == []
