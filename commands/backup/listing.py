"""A target's backups as the audit log knows them: the live ones, and one by its id."""

from __future__ import annotations

from audit.store import EventStore
from commands.backup.backup_index import live_records
from commands.backup.records import BackupRecord, UnknownBackupError


def list_backups(store: EventStore, target: str) -> list[BackupRecord]:
    """The target's backups that still exist, newest first (found through the backup
    index, read from their ``backup_succeeded`` events)."""
    return [BackupRecord.from_event(event) for event in live_records(store, target)]


def find_backup(store: EventStore, target: str, backup_id: str) -> BackupRecord:
    """The live backup ``backup_id`` of ``target``; raises ``UnknownBackupError``."""
    backups = list_backups(store, target)
    wanted = backup_id.strip().lower()
    for record in backups:
        if record.id == wanted:
            return record
    recent = ", ".join(r.id for r in backups[:5]) or "none yet"
    raise UnknownBackupError(
        f"{target} has no backup {backup_id!r} (latest: {recent};"
        f" see `migrate-bot backups {target}`)"
    )
