"""Start-up cleanup: leftovers of interrupted backups are removed, and recorded."""

from __future__ import annotations

from pathlib import Path

from psycopg import sql

from audit.store import EventStore
from commands.backup.cleanup import cleanup_backups
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.scratch import scratch_name
from tests.support.backup_targets import event_kinds, files_in, make_target, scratch_databases


def test_cleanup_removes_this_targets_leftovers_only_and_marks_the_dead_backup_failed(
    populated_db: DatabaseUrl, pg_server: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    handle = make_target(populated_db, tmp_path, backup="file://backups")
    folder = tmp_path / "backups"
    folder.mkdir()
    ours = folder / ".app_20300101000000_e2f6a8c0d376.dump.partial"
    theirs = folder / ".app_eu_20300101000000_e2f6a8c0d376.dump.partial"
    kept = folder / "app_20291231000000_e2f6a8c0d376.dump"
    for path in (ours, theirs, kept):
        path.write_bytes(b"PGDMP")
    scratch = scratch_name(populated_db, "verify", "dead01")
    with connect(populated_db) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    store.append(
        kind="backup_started",
        actor="bot",
        target="app",
        data={"backup_id": "dead01", "destination": handle.config.backup},
    )

    report = cleanup_backups(handle, store=store, actor="bot")

    assert [(r.kind, r.location) for r in report.removed] == [
        ("partial file", str(ours)),
        ("scratch database", scratch),
    ]
    assert report.interrupted == ("dead01",) and report.errors == () and report.skipped is None
    assert files_in(folder) == sorted([theirs.name, kept.name])
    assert list(scratch_databases(pg_server)) == []
    failed, cleaned = store.events(kinds=["backup_failed", "backup_cleaned"])
    assert (failed.data["backup_id"], failed.data["step"]) == ("dead01", "interrupted")
    assert cleaned.data["removed"] == [
        {"kind": "partial file", "location": str(ours)},
        {"kind": "scratch database", "location": scratch},
    ]

    again = cleanup_backups(handle, store=store, actor="bot")
    assert again.removed == () and again.interrupted == ()
    assert event_kinds(store) == ["backup_started", "backup_failed", "backup_cleaned"]
