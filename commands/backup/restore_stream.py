"""Feeding a stored backup to pg_restore, checked on the way.

Streamed (``restore_jobs = 1``, the default): the stored bytes are read from
the file or from S3, hashed, decompressed and fed to ``pg_restore
--single-transaction`` on a pipe, with no copy on disk. The archive's last
bytes are held back until every stored byte has been read and its sha256
and size match the record (and zstd's checksum its content): pg_restore
cannot finish the last table's data, let alone commit, before. A changed or
damaged file stops pg_restore, its transaction rolls back, nothing changes.

In parallel (``restore_jobs = N``): ``pg_restore --jobs`` needs a file it can
seek in, so the stream is decompressed into a temporary file, checked, and
then restored by N jobs. That cannot run in one transaction: pg_restore
commits as it goes, so a failure midway leaves the database partly restored.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path

from commands.backup.child_pipes import Feeder, stop
from commands.backup.compression import pg_dump_compressed
from commands.backup.records import (
    MIB,
    PROGRESS_EVERY_BYTES,
    ArchiveFormat,
    BackupRecord,
    Progress,
    ProgressCallback,
    Step,
)
from commands.backup.storage import destination_of
from commands.backup.stream_codec import Decoder, StreamDecodeError, decoder_for
from commands.errors import MigrateBotError
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.pg_tools import PgTools, pg_dump_compresses_with, stderr_tail
from commands.targets import TargetHandle
from commands.units import postgres_interval


class RestoreError(MigrateBotError):
    """The restore failed; the message says whether the database was changed."""


class ChecksumMismatchError(RestoreError):
    """The stored file is not the one recorded (sha256 or size differ, or it does not
    decompress): it was changed or damaged."""


def restore_archive(
    tools: PgTools,
    handle: TargetHandle,
    record: BackupRecord,
    *,
    on_progress: ProgressCallback,
    workdir: Path | None = None,
) -> dict[str, float]:
    """Restore ``record`` into ``handle``'s database with ``pg_restore --clean``.

    Streamed in one transaction, or with ``restore_jobs`` > 1 through a
    temporary file in ``workdir`` (default: the system's temporary folder).
    Returns how long each part took. Raises ``ChecksumMismatchError`` (nothing
    changed), ``RestoreError`` (also when these tools cannot read what pg_dump
    compressed the backup with) or ``StorageError``.
    """
    _check_tools_read(tools, record)
    jobs = handle.config.restore_jobs
    source = _Received(record, on_progress)
    stored = destination_of(record.uri, handle.config)
    on_progress(Progress(Step.RESTORE, _restoring(handle.database, record, jobs)))
    started = time.monotonic()
    chunks = source.chunks(stored.read(record.uri))
    if jobs == 1:
        _stream(tools, handle, record, chunks, source)
        return {"restore": round(time.monotonic() - started, 3)}
    local = stored.local_path(record.uri) if record.format is ArchiveFormat.CUSTOM else None
    with tempfile.TemporaryDirectory(prefix="migrate-bot-restore-", dir=workdir) as folder:
        archive = local or Path(folder) / record.name
        if local is None:
            _decode_into(archive, chunks, decoder_for(record.format), record)
        else:
            for _ in chunks:  # the file is used where it is: only its checksum to read
                pass
        source.check()
        fetched = time.monotonic()
        _run_parallel(tools, handle, archive, jobs)
    return {"fetch": round(fetched - started, 3), "restore": round(time.monotonic() - fetched, 3)}


def _check_tools_read(tools: PgTools, record: BackupRecord) -> None:
    """Refuse, before anything changes, a backup pg_dump compressed with a method these
    tools were built without (zstd or lz4 by a distribution's pg_dump, the wheel's here)."""
    method = pg_dump_compressed(record.compression, record.format)
    if method is not None and not pg_dump_compresses_with(tools, method):
        raise RestoreError(
            f"backup {record.id} was compressed by pg_dump with {method}, and the PostgreSQL"
            f" {tools.version} tools in {tools.bin_dir} were built without it: set pg_bin_dir"
            f" to tools built with {method} (it was taken by pg_dump {record.pg_dump_version})."
            " Nothing was changed"
        )


def _pg_restore_command(
    tools: PgTools, database: DatabaseUrl, *, jobs: int, archive: Path | None
) -> list[str]:
    """pg_restore --clean of the archive (stdin when None): one transaction, or ``jobs``."""
    mode = ["--single-transaction"] if jobs == 1 else [f"--jobs={jobs}"]
    return [
        tools.pg_restore,
        "--clean",
        "--if-exists",
        "--no-owner",
        *mode,
        "--exit-on-error",
        "--no-password",
        f"--dbname={database.for_libpq()}",
        *([str(archive)] if archive is not None else []),
    ]


def _restore_env(handle: TargetHandle) -> dict[str, str]:
    """pg_restore's environment: waits at most the target's lock_timeout per lock."""
    options = f"-c lock_timeout={postgres_interval(handle.config.lock_timeout)}"
    return {
        **os.environ,
        **handle.database.libpq_env(),
        "PGOPTIONS": f"{os.environ.get('PGOPTIONS', '')} {options}".strip(),
    }


class _Received:
    """The stored bytes as they are read: counted, hashed, reported every 32 MiB."""

    def __init__(self, record: BackupRecord, on_progress: ProgressCallback) -> None:
        self.record = record
        self.on_progress = on_progress
        self.digest = hashlib.sha256()
        self.size = 0

    def chunks(self, source: Iterable[bytes]) -> Iterator[bytes]:
        next_report = PROGRESS_EVERY_BYTES
        for chunk in source:
            self.digest.update(chunk)
            self.size += len(chunk)
            if self.size >= next_report:
                next_report += PROGRESS_EVERY_BYTES
                self.on_progress(Progress(Step.DOWNLOAD, f"{self.size / MIB:,.0f} MiB read"))
            yield chunk

    def check(self, *, committed: bool = False) -> None:
        """Raise ``ChecksumMismatchError`` unless every byte read is the one recorded."""
        record = self.record
        if self.digest.hexdigest() != record.sha256 or self.size != record.size:
            outcome = (
                "pg_restore had already committed: restore again from a good backup"
                if committed
                else "it is not restored. Nothing was changed"
            )
            raise ChecksumMismatchError(
                f"{record.uri} is not the file backed up: sha256"
                f" {self.digest.hexdigest()[:16]}… ({self.size:,} bytes), recorded"
                f" {record.sha256[:16]}… ({record.size:,} bytes); it was changed or damaged,"
                f" so {outcome}"
            )
        self.on_progress(
            Progress(Step.CHECKSUM, f"sha256 matches ({record.sha256[:16]}…)", self.size)
        )


def _restoring(database: DatabaseUrl, record: BackupRecord, jobs: int) -> str:
    how = "in one transaction, streamed" if jobs == 1 else f"with {jobs} jobs, through a file"
    return f"pg_restore --clean into {database.database} {how} ({record.format} archive)"


def _decoded(chunks: Iterable[bytes], decoder: Decoder, record: BackupRecord) -> Iterator[bytes]:
    """The archive's bytes; a stream that does not decompress raises ``ChecksumMismatchError``."""
    try:
        for chunk in chunks:
            yield from decoder.decode(chunk)
        decoder.finish()
    except StreamDecodeError as exc:
        raise ChecksumMismatchError(
            f"{record.uri} does not decompress ({exc}): it was changed or damaged, so it is"
            " not restored. Nothing was changed"
        ) from None


def _stream(
    tools: PgTools,
    handle: TargetHandle,
    record: BackupRecord,
    chunks: Iterator[bytes],
    source: _Received,
) -> None:
    """Feed pg_restore, holding back the archive's end until the whole stream is checked."""
    command = _pg_restore_command(tools, handle.database, jobs=1, archive=None)
    pieces = _decoded(chunks, decoder_for(record.format), record)
    with ExitStack() as stack:
        errors = stack.enter_context(tempfile.TemporaryFile())
        restorer = Feeder(command, _restore_env(handle), subprocess.DEVNULL, errors)
        stack.callback(stop, restorer.process)  # killed on any failure: it rolls back
        held: bytes | None = None
        stopped = False  # reading: it failed, or needed no more of the archive
        for piece in pieces:
            if held is not None and not restorer.feed(held):
                stopped = True
                break
            held = piece
        if stopped:
            for _ in chunks:  # the rest is hashed all the same: a damaged file is named as one
                pass
        else:
            source.check()
            restorer.feed(held or b"")
        if restorer.finish() != 0:
            if stopped:  # damage that decodes into nonsense stops pg_restore before zstd's check
                source.check()
            raise RestoreError(
                "pg_restore failed and was rolled back, nothing was changed:"
                f" {stderr_tail(errors)} (if it waited for a lock, stop the application first)"
            )
    if stopped:  # pg_restore committed without needing the end
        source.check(committed=True)


def _decode_into(
    archive: Path, chunks: Iterable[bytes], decoder: Decoder, record: BackupRecord
) -> None:
    """Write the decompressed archive to ``archive``, refusing first if it cannot fit."""
    needed = record.archive_size or record.size
    free = shutil.disk_usage(archive.parent).free
    if free < needed:
        raise RestoreError(
            f"a parallel restore needs {needed / MIB:,.0f} MiB in {archive.parent} for the"
            f" decompressed archive, and {free / MIB:,.0f} MiB are free: set TMPDIR to a"
            " larger disk, or restore_jobs = 1 (streamed). Nothing was changed"
        )
    with open(archive, "wb") as file:
        for piece in _decoded(chunks, decoder, record):
            file.write(piece)


def _run_parallel(tools: PgTools, handle: TargetHandle, archive: Path, jobs: int) -> None:
    command = _pg_restore_command(tools, handle.database, jobs=jobs, archive=archive)
    with tempfile.TemporaryFile() as errors:
        result = subprocess.run(
            command, stderr=errors, stdout=subprocess.DEVNULL, env=_restore_env(handle), check=False
        )
        if result.returncode != 0:
            raise RestoreError(
                f"pg_restore --jobs={jobs} failed: {stderr_tail(errors)}. A parallel restore"
                " commits as it goes, so the database is partly restored: restore again"
                " (restore_jobs = 1 restores in one transaction, all or nothing)"
            )
