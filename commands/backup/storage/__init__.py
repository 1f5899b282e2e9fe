"""Where backups are kept: a local folder (``file://DIR``) or S3 (``s3://bucket/prefix``),
behind one interface, chosen here from the URI.

A backup is written while pg_dump runs and becomes visible under its final
name only when ``commit`` is called, after it has been verified; ``abort``
removes whatever was written. Leftovers of a process killed mid-backup are
found by ``leftovers`` and removed at start-up. boto3 is imported only when an
``s3://`` destination is opened.
"""

from __future__ import annotations

from pathlib import Path

from commands.backup.storage.base import (
    BackupDestination,
    BackupWriter,
    Leftover,
    StorageError,
    StorageUnavailableError,
    StoredBackup,
)
from commands.backup.storage.local import FileDestination
from commands.config.targets_file import TargetConfig

__all__ = [
    "BackupDestination",
    "BackupWriter",
    "Leftover",
    "StorageError",
    "StorageUnavailableError",
    "StoredBackup",
    "destination_of",
    "open_destination",
]


def open_destination(target: TargetConfig) -> BackupDestination:
    """The target's configured destination."""
    return _open(target.backup, target)


def destination_of(backup_uri: str, target: TargetConfig) -> BackupDestination:
    """The folder or prefix holding ``backup_uri``, which may predate the target's
    current ``backup`` setting (S3 is reached with the target's current S3 settings)."""
    return _open(backup_uri.rsplit("/", 1)[0], target)


def _open(base_uri: str, target: TargetConfig) -> BackupDestination:
    if base_uri.startswith("file://"):
        return FileDestination(Path(base_uri.removeprefix("file://")))
    if base_uri.startswith("s3://"):
        from commands.backup.storage.s3 import S3Destination  # imports boto3

        return S3Destination.for_target(base_uri, target)
    raise StorageError(f"{base_uri!r} is neither file:// nor s3://")
