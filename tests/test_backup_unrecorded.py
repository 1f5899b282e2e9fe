"""A backup stored but never recorded (the bot killed between the two) is a leftover.

Its URI is in ``backup_writing``; cleanup at start-up removes the file and
records it, and leaves alone the backups the log accounts for.
"""

from __future__ import annotations

from pathlib import Path

from audit.store import EventStore
from commands.backup.cleanup import cleanup_backups
from commands.postgres.database_url import DatabaseUrl
from tests.support.backup_targets import event_kinds, files_in, make_target


def test_a_backup_stored_but_never_recorded_is_removed_and_recorded(
    populated_db: DatabaseUrl, tmp_path: Path, store: EventStore
) -> None:
    handle = make_target(populated_db, tmp_path, backup="file://backups")
    folder = tmp_path / "backups"
    folder.mkdir()
    stored = folder / "app_20300101000000_e2f6a8c0d376.dump"
    unrelated = folder / "app_20291231000000_e2f6a8c0d376.dump"  # not this backup's
    for path in (stored, unrelated):
        path.write_bytes(b"PGDMP")
    where = {"actor": "bot", "target": "app"}
    store.append(kind="backup_started", data={"backup_id": "dead02", "destination": "x"}, **where)
    store.append(
        kind="backup_writing",
        data={"backup_id": "dead02", "uri": f"file://{stored}"},
        **where,
    )

    report = cleanup_backups(handle, store=store, actor="bot")

    assert [(r.kind, r.location) for r in report.removed] == [
        ("unrecorded backup", f"file://{stored}")
    ]
    assert report.interrupted == ("dead02",) and report.errors == ()
    assert files_in(folder) == [unrelated.name]
    assert event_kinds(store) == [
        "backup_started",
        "backup_writing",
        "backup_failed",
        "backup_cleaned",
    ]
    again = cleanup_backups(handle, store=store, actor="bot")
    assert again.removed == () and again.interrupted == ()
