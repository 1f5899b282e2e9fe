"""A target's backups as the audit log knows them: the live ones, and one by its id."""

from __future__ import annotations

from audit.store import EventStore
from commands.backup.records import BackupRecord, UnknownBackupError
from commands.state.vocabulary import EventKind


def list_backups(store: EventStore, target: str) -> list[BackupRecord]:
    """The target's backups that still exist, newest first."""
    kinds = (EventKind.BACKUP_SUCCEEDED, EventKind.BACKUP_DELETED)
    live: dict[str, BackupRecord] = {}
    for event in store.iter_events(target=target, kinds=[str(k) for k in kinds]):
        if event.kind == EventKind.BACKUP_SUCCEEDED:
            record = BackupRecord.from_event(event)
            live[record.id] = record
        else:
            live.pop(event.data["backup_id"], None)
    return list(reversed(live.values()))  # events are in the order they happened


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
