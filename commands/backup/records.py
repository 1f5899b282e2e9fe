"""What a backup is once recorded, and the list of a target's backups.

The audit log is the catalogue: a ``backup_succeeded`` event carries
everything a restore needs (where, size, sha256, the revision captured, the
row counts), and ``backup_deleted`` retires one. ``list_backups`` is a fold
over those events; no other list exists to drift from it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from audit.chain import Event
from commands.errors import ExitCode, MigrateBotError

MIB = 1 << 20
PROGRESS_EVERY_BYTES = 32 * MIB  # how often DUMP and DOWNLOAD progress is reported
ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: easy to read aloud and type
ID_LENGTH = 6
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9-]+")


class BackupError(MigrateBotError):
    """A backup could not be taken or verified; nothing usable was stored."""


class UnknownBackupError(MigrateBotError):
    """No (undeleted) backup of the target has that id."""

    exit_code = ExitCode.BAD_INPUT


class ArchiveFormat(StrEnum):
    """How a backup's bytes are laid out, so a restore knows how to read them."""

    CUSTOM = "custom"  # pg_dump's custom format as pg_dump wrote it (compressed inside, or not)
    CUSTOM_ZSTD = "custom+zstd"  # the custom format, uncompressed inside, as one zstd stream


class Step(StrEnum):
    """The stages a backup or restore reports progress from."""

    TOOLS = "tools"
    DESTINATION = "destination"
    DUMP = "dump"
    VERIFY = "verify"
    UPLOAD = "upload"
    RETENTION = "retention"
    TABLES = "tables"  # the target holds no table the backup lacks
    DOWNLOAD = "download"
    CHECKSUM = "checksum"
    RESTORE = "restore"
    REVISION = "revision"
    ROW_COUNTS = "row_counts"


@dataclass(frozen=True)
class Progress:
    """One progress report: a stage, a line a human can read, bytes so far if any."""

    step: Step
    message: str
    bytes_done: int | None = None


ProgressCallback = Callable[[Progress], None]


def ignore_progress(_: Progress) -> None:
    """The default progress callback."""


@dataclass(frozen=True)
class BackupRecord:
    """A verified backup as its ``backup_succeeded`` event describes it (events older
    than the zstd stream carry no ``format``: they are plain custom archives)."""

    id: str
    target: str
    created_at: str
    name: str
    uri: str
    size: int
    sha256: str
    revisions: tuple[str, ...]
    server_version: str
    pg_dump_version: str
    compression: str
    encryption: str | None
    verified_by: str
    toc_entries: int
    format: ArchiveFormat = ArchiveFormat.CUSTOM
    archive_size: int | None = None  # the archive's bytes before the bot compressed it
    durations_s: Mapping[str, float] = field(default_factory=dict)
    row_counts: Mapping[str, int] = field(default_factory=dict)

    def event_data(self) -> dict[str, Any]:
        """The ``backup_succeeded`` event's data (target and time live on the event)."""
        return {
            "backup_id": self.id,
            "name": self.name,
            "uri": self.uri,
            "size_bytes": self.size,
            "sha256": self.sha256,
            "revisions": list(self.revisions),
            "server_version": self.server_version,
            "pg_dump_version": self.pg_dump_version,
            "format": self.format.value,
            "compression": self.compression,
            "archive_size_bytes": self.archive_size,
            "encryption": self.encryption,
            "verified_by": self.verified_by,
            "toc_entries": self.toc_entries,
            "durations_s": dict(self.durations_s),
            "row_counts": dict(self.row_counts),
        }

    @classmethod
    def from_event(cls, event: Event) -> BackupRecord:
        data = event.data
        return cls(
            id=data["backup_id"],
            target=event.target or "",
            created_at=event.ts,
            name=data["name"],
            uri=data["uri"],
            size=int(data["size_bytes"]),
            sha256=data["sha256"],
            revisions=tuple(data["revisions"]),
            server_version=data["server_version"],
            pg_dump_version=data["pg_dump_version"],
            compression=data["compression"],
            format=ArchiveFormat(data.get("format", ArchiveFormat.CUSTOM)),
            archive_size=data.get("archive_size_bytes"),
            encryption=data.get("encryption"),
            verified_by=data["verified_by"],
            toc_entries=int(data.get("toc_entries", 0)),
            durations_s=dict(data.get("durations_s", {})),
            row_counts={k: int(v) for k, v in data.get("row_counts", {}).items()},
        )


def new_backup_id() -> str:
    """Six characters from an unambiguous alphabet, e.g. ``k7m2xq``."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def backup_name(target: str, when: datetime, revisions: tuple[str, ...]) -> str:
    """``<target>_<YYYYmmddHHMMSS>_<revision>.dump`` (UTC; ``base`` when empty,
    several heads joined with ``+``)."""
    stamp = when.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    revision = "+".join(_UNSAFE_IN_NAME.sub("-", r) for r in revisions) or "base"
    return f"{target}_{stamp}_{revision}.dump"


def name_pattern(target: str) -> re.Pattern[str]:
    """Matches the names ``backup_name`` gives this target's backups, and no other target's."""
    return re.compile(rf"^{re.escape(target)}_\d{{14}}_[A-Za-z0-9+-]+\.dump$")
