"""Backups to a local folder and restores from them, on a real PostgreSQL with real
pg_dump/pg_restore."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import zstandard

from audit.store import EventStore
from commands.backup.cleanup import cleanup_backups
from commands.backup.listing import list_backups
from commands.backup.lock import try_backup_lock
from commands.backup.records import ArchiveFormat, BackupError, Step, UnknownBackupError
from commands.backup.restore import RestoreRefusedError, restore_backup
from commands.backup.take import take_backup
from commands.demo.data import fill_demo_data
from commands.errors import AlembicError
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.revision_graph import Direction
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.alembic_projects import table, write_project
from tests.support.backup_targets import (
    BEFORE_TRANSLATIONS,
    content_digest,
    event_kinds,
    files_in,
    make_target,
    migrate,
    scratch_databases,
    stepping_clock,
)


def test_round_trip_restores_the_data_and_refuses_what_it_cannot_restore(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    handle = make_target(fresh_db, tmp_path, backup="file://backups")
    migrate(handle, to=BEFORE_TRANSLATIONS)
    fill_demo_data(fresh_db, rows=3000)
    before = content_digest(fresh_db)
    progress: list[Step] = []

    record = take_backup(
        handle,
        store=store,
        actor="U0ALICE",
        request_id="req-1",
        on_progress=lambda p: progress.append(p.step),
    )

    assert re.fullmatch(rf"app_\d{{14}}_{BEFORE_TRANSLATIONS}\.dump", record.name)
    assert files_in(tmp_path / "backups") == [record.name]
    stored = (tmp_path / "backups" / record.name).read_bytes()
    assert (len(stored), hashlib.sha256(stored).hexdigest()) == (record.size, record.sha256)
    assert record.uri == f"file://{tmp_path / 'backups' / record.name}"
    assert record.revisions == (BEFORE_TRANSLATIONS,)
    assert record.row_counts["public.segments"] == 3000
    assert record.row_counts["public.videos"] == record.row_counts["public.jobs"] == 75
    assert record.server_version.startswith("18.") and record.pg_dump_version.startswith("18.")
    assert (record.compression, record.format) == ("zstd:1", ArchiveFormat.CUSTOM_ZSTD)
    assert record.toc_entries > 10 and record.archive_size is not None
    archive = zstandard.ZstdDecompressor().decompressobj().decompress(stored)
    assert archive.startswith(b"PGDMP") and len(archive) == record.archive_size  # pg_dump's magic
    assert record.archive_size > 2 * record.size
    assert set(record.durations_s) == {"dump", "verify", "upload", "total"}
    assert progress == [Step.TOOLS, Step.VERIFY, Step.UPLOAD]
    assert list_backups(store, "app") == [record]
    succeeded = store.events(kinds=["backup_succeeded"])[0]
    assert (succeeded.actor, succeeded.request_id, succeeded.data["sha256"]) == (
        "U0ALICE",
        "req-1",
        record.sha256,
    )

    # the database moves on: a migration that adds a table, and changed rows
    migrate(handle)
    with connect(fresh_db) as conn:
        conn.execute("DELETE FROM segments WHERE start_seconds > 100")
        conn.execute("UPDATE videos SET title = 'changed'")
    changed = content_digest(fresh_db)
    assert changed != before

    with pytest.raises(RestoreRefusedError, match=r"segment_translations.*nothing was changed"):
        restore_backup(handle, record.id, store=store, actor="U0BOB")
    assert content_digest(fresh_db) == changed
    assert store.events(kinds=["restore_failed"])[0].data["step"] == "tables"

    migrate(handle, to=BEFORE_TRANSLATIONS, direction=Direction.DOWN)
    steps: list[Step] = []
    result = restore_backup(
        handle,
        record.id.upper(),
        store=store,
        actor="U0BOB",
        on_progress=lambda p: steps.append(p.step),
    )

    assert content_digest(fresh_db) == before
    assert AlembicRunner.for_target(handle).current() == (BEFORE_TRANSLATIONS,)
    assert result.stamped_from is None and result.tables_checked == len(record.row_counts)
    assert steps == [Step.TOOLS, Step.RESTORE, Step.CHECKSUM, Step.REVISION, Step.ROW_COUNTS]
    assert event_kinds(store) == [
        "backup_started",
        "backup_writing",
        "backup_succeeded",
        "restore_started",
        "restore_failed",
        "restore_started",
        "restore_succeeded",
    ]


def test_restore_stamps_the_recorded_revision_when_the_archive_holds_another(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    """The stamp is the safety net for a version table the archive does not carry as
    recorded; here the record names an older revision than the archive holds."""
    handle = make_target(fresh_db, tmp_path, backup="file://backups")
    migrate(handle, to=BEFORE_TRANSLATIONS)
    record = take_backup(handle, store=store, actor="U0ALICE")
    data = {**record.event_data(), "backup_id": "older1", "revisions": ["b41e9d3a5c32"]}
    store.append(kind="backup_succeeded", actor="U0ALICE", target="app", data=data)

    result = restore_backup(handle, "older1", store=store, actor="U0BOB")

    assert result.stamped_from == (BEFORE_TRANSLATIONS,)
    assert AlembicRunner.for_target(handle).current() == ("b41e9d3a5c32",)
    stamped = store.events(kinds=["restore_stamped"])
    assert [(e.data["from"], e.data["to"]) for e in stamped] == [
        ([BEFORE_TRANSLATIONS], ["b41e9d3a5c32"])
    ]


def test_verify_restore_restores_into_a_scratch_database_and_drops_it(
    populated_db: DatabaseUrl, pg_server: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    handle = make_target(populated_db, tmp_path, backup="file://backups", verify_restore=True)
    messages: list[str] = []

    record = take_backup(
        handle, store=store, actor="U0ALICE", on_progress=lambda p: messages.append(p.message)
    )

    assert "test restore with matching row counts" in record.verified_by
    assert any(f"{len(record.row_counts)} tables' counts match" in m for m in messages)
    assert record.row_counts["public.segments"] == 4000
    assert list(scratch_databases(pg_server)) == []


def test_retention_keeps_the_newest_and_records_each_deletion(
    populated_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    handle = make_target(populated_db, tmp_path, backup="file://backups", backup_keep=2)
    clock = stepping_clock()
    taken = [take_backup(handle, store=store, actor="U0ALICE", clock=clock) for _ in range(3)]

    assert [r.id for r in list_backups(store, "app")] == [taken[2].id, taken[1].id]
    assert files_in(tmp_path / "backups") == sorted([taken[1].name, taken[2].name])
    deleted = store.events(kinds=["backup_deleted"])
    assert [(e.data["backup_id"], e.data["reason"]) for e in deleted] == [
        (taken[0].id, "retention: keep 2")
    ]
    with pytest.raises(UnknownBackupError, match=f"no backup '{taken[0].id}'"):
        restore_backup(handle, taken[0].id, store=store, actor="U0BOB")


def test_a_running_backup_holds_off_another_and_the_cleanup(
    populated_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    handle = make_target(populated_db, tmp_path, backup="file://backups")
    partial = tmp_path / "backups" / ".app_20300101000000_e2f6a8c0d376.dump.partial"
    partial.parent.mkdir()
    partial.write_bytes(b"being written by the running backup")
    with connect(populated_db) as other:
        assert try_backup_lock(other)
        with pytest.raises(BackupError, match="another backup of app is running"):
            take_backup(handle, store=store, actor="U0ALICE")
        report = cleanup_backups(handle, store=store, actor="bot")

    assert report.skipped == "a backup of this target is running" and report.removed == ()
    assert files_in(tmp_path / "backups") == [partial.name]
    assert event_kinds(store) == ["backup_started", "backup_failed"]
    assert store.events(kinds=["backup_failed"])[0].data["step"] == "dump"


def test_a_project_with_its_own_version_table_has_its_revision_from_alembic(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    project = write_project(tmp_path / "project", [table("orders"), table("items", ("orders",))])
    env = project / "env.py"
    env.write_text(
        env.read_text().replace(
            "transaction_per_migration=True",
            "transaction_per_migration=True, version_table='schema_versions'",
        )
    )
    handle = make_target(fresh_db, tmp_path, script_location=project, backup="file://backups")
    migrate(handle)

    record = take_backup(handle, store=store, actor="U0ALICE")

    assert record.revisions == ("items",) and record.name.endswith("_items.dump")
    assert record.row_counts == {"public.items": 0, "public.orders": 0, "public.schema_versions": 1}


def test_a_database_no_revision_was_applied_to_is_backed_up_and_restored_without_env_py(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    """No table has Alembic's ``version_num`` column: the database is at base whatever
    env.py would say, so neither the backup nor the restore's check starts it (an env.py
    that raises proves it); once such a table exists, env.py is asked again."""
    project = write_project(tmp_path / "project", [table("orders")], env="raise SystemExit(3)\n")
    handle = make_target(fresh_db, tmp_path, script_location=project, backup="file://backups")
    with connect(fresh_db) as conn:
        conn.execute("CREATE TABLE payload (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO payload SELECT g, md5(g::text) FROM generate_series(1, 50) g")
    said: list[str] = []

    record = take_backup(handle, store=store, actor="U0ALICE")
    restore_backup(
        handle, record.id, store=store, actor="U0BOB", on_progress=lambda p: said.append(p.message)
    )

    assert record.revisions == () and record.row_counts == {"public.payload": 50}
    assert "at base (no revision applied), as backed up" in said, said
    with connect(fresh_db) as conn:  # an application's own column of that name
        conn.execute("ALTER TABLE payload ADD COLUMN version_num int")
    with pytest.raises(AlembicError, match=r"env\.py:1\): SystemExit: 3"):  # said where
        take_backup(handle, store=store, actor="U0ALICE")


def test_the_dump_s_revision_is_read_where_the_run_says_the_version_table_is(
    fresh_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    """A run knows its project's version table from its plan: the backup reads the revision
    there, in the dump's own snapshot (no Alembic child of its own); no table is base only
    when the plan found none, else Alembic is asked."""
    handle = make_target(fresh_db, tmp_path, backup="file://backups")
    with connect(fresh_db) as conn:
        conn.execute("CREATE SCHEMA ops")
        conn.execute('CREATE TABLE ops."Versions" (version_num varchar(32) PRIMARY KEY)')
        conn.execute("""INSERT INTO ops."Versions" VALUES ('b41e9d3a5c32')""")
    kept = take_backup(handle, store=store, actor="U0ALICE", version_table="ops.Versions")
    assert kept.revisions == ("b41e9d3a5c32",)
    at_base = take_backup(
        handle, store=store, actor="U0ALICE", version_table="ops.missing", planned_current=()
    )
    assert at_base.revisions == ()
    with connect(fresh_db) as conn:  # where Alembic finds it, not where the run looked
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('c9d0b2f4e165')")
    asked = take_backup(
        handle,
        store=store,
        actor="U0ALICE",
        version_table="ops.missing",
        planned_current=("c9d0b2f4e165",),
    )
    assert asked.revisions == ("c9d0b2f4e165",)  # not base: the plan found a revision
