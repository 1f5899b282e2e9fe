"""Start-up cleanup: what a backup killed mid-way left behind.

A process killed during a backup leaves a ``.partial`` file, an open S3
multipart upload (whose parts are billed until aborted), perhaps a scratch
database, and a ``backup_started`` event with no outcome; killed between
storing the backup and recording it, a complete file or object that no
``backup_succeeded`` accounts for (its URI is in ``backup_writing``). This finds and
removes them for one target, and records what it did. It only acts when it
can take the target's backup lock: while a backup is running (in this
process or another), its files are not leftovers.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.store import EventStore
from commands.backup.backup_index import unfinished
from commands.backup.lock import backup_lock
from commands.backup.records import name_pattern
from commands.backup.storage import Leftover, StorageError, open_destination
from commands.postgres.scratch import PURPOSES, drop_database, stray_scratch_databases
from commands.state.vocabulary import EventKind
from commands.targets import TargetHandle

INTERRUPTED = "the process taking it stopped before it finished"


@dataclass(frozen=True)
class CleanupReport:
    """What cleanup removed, which backups it marked failed, and what it could not do."""

    target: str
    removed: tuple[Leftover, ...] = ()
    interrupted: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    skipped: str | None = None


def cleanup_backups(
    handle: TargetHandle, *, store: EventStore, actor: str, request_id: str | None = None
) -> CleanupReport:
    """Remove the leftovers of interrupted backups of ``handle``; record it as
    ``backup_cleaned`` (and ``backup_failed`` for each backup left unfinished).

    Raises ``DatabaseUnavailableError`` if the target's database (which holds
    the lock) cannot be reached; a leftover that cannot be removed is
    reported in ``errors`` and tried again next time.
    """
    target = handle.name
    where = {"actor": actor, "request_id": request_id, "target": target}
    with backup_lock(handle.database) as free:
        if not free:
            return CleanupReport(target=target, skipped="a backup of this target is running")
        removed: list[Leftover] = []
        errors: list[str] = []
        destination = open_destination(handle.config)
        try:
            leftovers = destination.leftovers(name_pattern(target), f"{target}_")
        except StorageError as exc:
            leftovers, errors = [], [str(exc)]
        for leftover in leftovers:
            try:
                destination.remove(leftover)
            except StorageError as exc:
                errors.append(str(exc))
                continue
            removed.append(leftover)
        for purpose in PURPOSES:
            for name in stray_scratch_databases(handle.database, purpose):
                drop_database(handle.database, name)
                removed.append(Leftover(kind="scratch database", location=name))
        left = unfinished(store, target)
        interrupted = [backup_id for backup_id, _ in left]
        for uri in (uri for _, uri in left if uri is not None):
            try:
                if destination.exists(uri.rsplit("/", 1)[-1]):
                    destination.delete(uri)
                    removed.append(Leftover(kind="unrecorded backup", location=uri))
            except StorageError as exc:
                errors.append(str(exc))
        for backup_id in interrupted:
            store.append(
                kind=EventKind.BACKUP_FAILED,
                data={"backup_id": backup_id, "step": "interrupted", "error": INTERRUPTED},
                **where,
            )
        if removed or errors:
            store.append(
                kind=EventKind.BACKUP_CLEANED,
                data={
                    "removed": [{"kind": r.kind, "location": r.location} for r in removed],
                    "errors": errors,
                },
                **where,
            )
    return CleanupReport(
        target=target, removed=tuple(removed), interrupted=tuple(interrupted), errors=tuple(errors)
    )
