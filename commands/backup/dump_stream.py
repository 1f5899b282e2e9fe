"""One pg_dump, read once: proven whole as it is written, compressed once, stored.

pg_dump writes the custom-format archive to a pipe, uncompressed unless
pg_dump compresses it itself (``backup_compression`` gzip or lz4). This
thread reads it and hands each piece, as pg_dump wrote it, to two pg_restore
processes: ``--list``, which proves the table of contents reads, and one
that reads every data block to the end (into ``/dev/null``, or into a
scratch database when the target asks for a restore test). A truncated
archive passes ``--list`` (which stops after the table of contents) but not
the full read. Then the same piece is compressed into one zstd stream (zstd's
own workers, one per core) and handed to the backup's writer (a local file,
or S3 parts going up meanwhile), which hashes what it is given and, on
``commit``, proves the destination holds exactly that (see ``storage``).

So the archive is proven on the bytes pg_dump wrote, before compression, and
the stored bytes by their checksums: nothing is decompressed to verify a
backup. That the stored stream decompresses into the archive rests on zstd's
frame checksum (of the archive's bytes, written by the compressor), checked
by every restore before it commits. Pipes are bounded, so memory does not
grow with the database.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO

from commands.backup.child_pipes import Feeder, stop, widen
from commands.backup.records import BackupError
from commands.backup.storage import BackupWriter
from commands.backup.stream_codec import Encoder
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.pg_tools import PgTools, stderr_tail

CHUNK = 1 << 20
_TOC_ENTRIES = re.compile(r"^;\s+TOC Entries:\s+(\d+)", re.M)


@dataclass(frozen=True)
class DumpResult:
    """What the stream produced: the archive's own size (before the bot compressed it),
    its table of contents' entries, and how long the dump and then the readers took."""

    archive_size: int
    toc_entries: int
    dump_s: float
    verify_s: float


def dump_command(
    tools: PgTools, database: DatabaseUrl, *, snapshot: str, compress: str, lock_timeout_ms: int
) -> list[str]:
    """pg_dump to stdout in the custom format, inside the exported ``snapshot``."""
    return [
        tools.pg_dump,
        "--format=custom",
        f"--compress={compress}",
        f"--snapshot={snapshot}",
        f"--lock-wait-timeout={lock_timeout_ms}",
        "--no-password",
        f"--dbname={database.for_libpq()}",
    ]


def verify_command(tools: PgTools, restore_into: DatabaseUrl | None) -> list[str]:
    """pg_restore reading the whole archive from stdin: into a database, or to nowhere."""
    if restore_into is None:
        return [tools.pg_restore, f"--file={os.devnull}"]
    return [
        tools.pg_restore,
        "--no-owner",
        "--exit-on-error",
        "--no-password",
        f"--dbname={restore_into.for_libpq()}",
    ]


class _ArchiveReaders:
    """pg_restore ``--list`` and the full read, fed the archive as pg_dump writes it."""

    def __init__(
        self,
        verify: list[str],
        env: Mapping[str, str],
        stack: ExitStack,
        outputs: tuple[IO[bytes], IO[bytes], IO[bytes]],
    ) -> None:
        self.listing, self.list_err, self.verify_err = outputs  # --list's stdout, the stderrs
        self.lister = Feeder([verify[0], "--list"], env, self.listing, self.list_err)
        stack.callback(stop, self.lister.process)
        self.reader = Feeder(verify, env, subprocess.DEVNULL, self.verify_err)
        stack.callback(stop, self.reader.process)

    def feed(self, chunk: memoryview) -> bool:
        """Hand ``chunk`` to both; False once the full read stopped reading (whatever it
        says then, the archive is not proven)."""
        self.lister.feed(chunk)  # it stops reading after the table of contents
        return self.reader.feed(chunk)

    def finish(self) -> tuple[int, int]:
        """End both inputs and wait: their exit codes (list, full read)."""
        return self.lister.finish(), self.reader.finish()

    def toc_entries(self) -> int:
        self.listing.seek(0)
        found = _TOC_ENTRIES.search(self.listing.read().decode(errors="replace"))
        return int(found.group(1)) if found else 0


def stream_dump(
    dump: list[str],
    verify: list[str],
    *,
    env: Mapping[str, str],
    writer: BackupWriter,
    encoder: Encoder,
    on_bytes: Callable[[int], None],
) -> DumpResult:
    """Run ``dump``; prove its output whole with ``verify`` and store it through ``encoder``.

    ``on_bytes`` is told the archive's bytes so far. Raises ``BackupError`` when
    pg_dump fails or its archive does not read in full, and whatever the writer
    raises (``StorageError``); the children are stopped in every case. The
    writer is not committed here.
    """
    started = time.monotonic()
    with ExitStack() as stack:
        dump_err = stack.enter_context(tempfile.TemporaryFile())
        producer = subprocess.Popen(
            dump, stdout=subprocess.PIPE, stderr=dump_err, env=dict(env), bufsize=0
        )
        stack.callback(stop, producer)
        widen(producer.stdout)
        listing, list_err, verify_err = (
            stack.enter_context(tempfile.TemporaryFile()) for _ in range(3)
        )
        readers = _ArchiveReaders(verify, env, stack, (listing, list_err, verify_err))
        archive_size, stopped = 0, False
        assert isinstance(producer.stdout, io.FileIO)
        buffer = memoryview(bytearray(CHUNK))
        while read := _fill(producer.stdout, buffer):
            chunk = buffer[:read]
            archive_size += read
            if not readers.feed(chunk):
                stopped = True
                break
            _store(writer, encoder.update(chunk))
            on_bytes(archive_size)
        if stopped:
            stop(producer)
        else:
            _store(writer, encoder.finish())
        dump_rc = producer.wait()
        dump_s = time.monotonic() - started
        list_rc, verify_rc = readers.finish()
        verify_s = time.monotonic() - started - dump_s
        if dump_rc != 0 and not stopped:
            raise BackupError(f"pg_dump failed: {_exit_reason(dump_rc, dump_err)}")
        if list_rc != 0:
            raise BackupError(
                f"the dump is not a readable archive: {stderr_tail(readers.list_err)}"
            )
        if verify_rc != 0 or stopped:
            raise BackupError(
                f"the dump does not read back in full: {stderr_tail(readers.verify_err)}"
            )
        toc_entries = readers.toc_entries()
    return DumpResult(
        archive_size=archive_size, toc_entries=toc_entries, dump_s=dump_s, verify_s=verify_s
    )


def _fill(pipe: io.FileIO, buffer: memoryview) -> int:
    """Read into ``buffer`` until it is full or the pipe ends; how many bytes it holds.

    pg_dump writes 4 KiB at a time, so a read returns a few KiB: handed on one by one,
    they cost two pipe writes (waking both pg_restores) and a compressor call each,
    17,000 times for 300 MB. Handed on a full buffer at a time (and one buffer, read
    into again and again, not a new object per read), the bot's process and the
    pg_restores use 0.2 s less CPU for 300 MB (bench/backup.py, docs/benchmarks.md).
    """
    filled = 0
    while filled < len(buffer) and (read := pipe.readinto(buffer[filled:])):
        filled += read
    return filled


def _store(writer: BackupWriter, chunk: bytes) -> None:
    if chunk:
        writer.write(chunk)


def _exit_reason(returncode: int, stderr: IO[bytes]) -> str:
    """Why a child failed: the signal that killed it (it wrote nothing then), or its stderr."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"it was killed by {name} (by an operator, the OOM killer or a timeout)"
    return stderr_tail(stderr)
