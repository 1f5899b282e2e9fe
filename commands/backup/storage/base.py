"""What every backup destination is and may raise: the protocols the backup code
writes to, the records they return, and the storage errors.

The local and S3 backends both build on this module and on nothing of each
other, so the factory can pick one without the other being imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from commands.errors import ExitCode, MigrateBotError

READ_CHUNK = 1 << 20


class StorageError(MigrateBotError):
    """The backup destination refused a read or a write (full, not writable, denied)."""


class StorageUnavailableError(StorageError):
    """The backup destination could not be reached at all."""

    exit_code = ExitCode.UNAVAILABLE


@dataclass(frozen=True)
class StoredBackup:
    """A committed backup: where it is, how many bytes it holds and their sha256, each
    proven on what the destination holds, not only on what was handed to it."""

    uri: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Leftover:
    """Something an interrupted backup left behind (a partial file, an open upload)."""

    kind: str
    location: str
    handle: str = ""


class BackupWriter(Protocol):
    """One backup being written; invisible until ``commit``, which proves that what the
    destination holds is what was written (raising ``StorageError`` if not)."""

    uri: str

    def write(self, chunk: bytes) -> None: ...

    def commit(self) -> StoredBackup: ...

    def abort(self) -> None: ...


class BackupDestination(Protocol):
    """A place that holds a target's backups."""

    uri: str

    def check(self) -> None: ...

    def exists(self, name: str) -> bool: ...

    def writer(self, name: str) -> BackupWriter: ...

    def local_path(self, uri: str) -> Path | None: ...

    def read(self, uri: str) -> Iterator[bytes]: ...

    def delete(self, uri: str) -> None: ...

    def leftovers(self, name_pattern: re.Pattern[str], name_prefix: str) -> list[Leftover]: ...

    def remove(self, leftover: Leftover) -> None: ...
