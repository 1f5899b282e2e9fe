"""Backups as files in a local folder (``file://DIR``).

A backup is written to a hidden ``.NAME.partial`` file beside its final name
and renamed into place on ``commit``, after it was verified and after the
file, synced to disk and read back through the file system, hashed to the
sha256 of the bytes written; ``abort`` and start-up cleanup remove partial
files.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from commands.backup.storage.base import READ_CHUNK, Leftover, StorageError, StoredBackup

PARTIAL_SUFFIX = ".partial"


def describe_os_error(exc: OSError) -> str:
    """Why a local write failed, in the words an operator looks for."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "it is not writable"
    if exc.errno in (errno.ENOTDIR, errno.ENOENT):
        return "it is not a folder that can be created"
    return exc.strerror or str(exc)


class FileWriter:
    """Writes ``.NAME.partial`` beside the final name; renames it when committed."""

    def __init__(self, folder: Path, name: str) -> None:
        self.final = folder / name
        self.temp = folder / f".{name}{PARTIAL_SUFFIX}"
        self.uri = f"file://{self.final}"
        self.size = 0
        self.digest = hashlib.sha256()
        try:
            self._file: IO[bytes] | None = open(self.temp, "xb")  # noqa: SIM115 (closed in commit/abort)
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> StorageError:
        return StorageError(
            f"cannot write the backup in {self.final.parent}: {describe_os_error(exc)}"
        )

    def write(self, chunk: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(chunk)
        except OSError as exc:
            raise self._error(exc) from None
        self.size += len(chunk)
        self.digest.update(chunk)

    def commit(self) -> StoredBackup:
        """fsync, read the file back and compare its sha256 with the bytes written, then
        rename it into place (never over an existing backup)."""
        assert self._file is not None
        written = self.digest.hexdigest()
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            self._prove(written)
            if self.final.exists():
                raise StorageError(f"{self.final} already exists; not overwriting it")
            os.rename(self.temp, self.final)
            _fsync_folder(self.final.parent)
        except OSError as exc:
            raise self._error(exc) from None
        return StoredBackup(uri=self.uri, size=self.size, sha256=written)

    def _prove(self, written: str) -> None:
        """Raise ``StorageError`` unless the file holds exactly the bytes written."""
        with open(self.temp, "rb") as file:
            held = hashlib.file_digest(file, "sha256").hexdigest()
            size = file.tell()
        if (held, size) != (written, self.size):
            raise StorageError(
                f"{self.temp} does not hold what was written: sha256 {held[:16]}… ({size:,}"
                f" bytes) read back, {written[:16]}… ({self.size:,} bytes) written"
            )

    def abort(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):  # a full disk fails the last flush too
                self._file.close()
            self._file = None
        self.temp.unlink(missing_ok=True)


class FileDestination:
    """Backups as files in one local folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.uri = f"file://{folder}"

    def check(self) -> None:
        """Create the folder and prove a file can be written in it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".probe-"):
                pass
        except OSError as exc:
            raise StorageError(
                f"cannot write backups in {self.folder}: {describe_os_error(exc)}"
            ) from None

    def exists(self, name: str) -> bool:
        return (self.folder / name).exists()

    def writer(self, name: str) -> FileWriter:
        return FileWriter(self.folder, name)

    def local_path(self, uri: str) -> Path:
        return Path(uri.removeprefix("file://"))

    def read(self, uri: str) -> Iterator[bytes]:
        path = self.local_path(uri)
        try:
            with open(path, "rb", buffering=0) as file:  # what is there: a pipe may hold less
                while chunk := file.read(READ_CHUNK):
                    yield chunk
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from None

    def delete(self, uri: str) -> None:
        try:
            self.local_path(uri).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {uri}: {exc.strerror}") from None

    def leftovers(self, name_pattern: re.Pattern[str], name_prefix: str) -> list[Leftover]:
        """Partial files of backups whose names match (another target's are left alone)."""
        if not self.folder.is_dir():
            return []
        return [
            Leftover(kind="partial file", location=str(path))
            for path in sorted(self.folder.glob(f".{glob.escape(name_prefix)}*{PARTIAL_SUFFIX}"))
            if name_pattern.match(path.name[1 : -len(PARTIAL_SUFFIX)])
        ]

    def remove(self, leftover: Leftover) -> None:
        Path(leftover.location).unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (the folder's entry list is data too)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
