"""One pg_dump, read once, compressed once, its bytes handed to everything that needs them.

pg_dump writes the custom-format archive to a pipe, uncompressed unless
pg_dump compresses it itself (``backup_compression`` gzip or lz4). This
thread reads it, compresses it into one zstd stream (zstd's own workers, one
per core), hashes the compressed bytes and hands them to the backup's writer
(a local file, or S3 parts going up meanwhile). A verifier thread takes those
same bytes, decompresses them and feeds two pg_restore processes: ``--list``,
which proves the table of contents reads, and one that reads every data block
to the end (into ``/dev/null``, or into a scratch database when the target
asks for a restore test). So what is stored is proven to decompress into a
whole archive while it is written, and never read back. A truncated archive
passes ``--list`` (which stops after the table of contents) but not the full
read. The queue between the threads is bounded, so memory does not grow with
the database.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO

from commands.backup.child_pipes import Feeder, stop
from commands.backup.records import BackupError
from commands.backup.storage import BackupWriter
from commands.backup.stream_codec import Decoder, Encoder, StreamDecodeError
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.pg_tools import PgTools, stderr_tail

CHUNK = 1 << 20
VERIFY_QUEUE_CHUNKS = 8  # stored chunks waiting for the verifier, at most
_TOC_ENTRIES = re.compile(r"^;\s+TOC Entries:\s+(\d+)", re.M)


@dataclass(frozen=True)
class DumpResult:
    """What the stream produced: bytes stored and their sha256, the archive's own size
    (before the bot compressed it), and how long each part took."""

    size: int
    archive_size: int
    sha256: str
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


class _Verifier:
    """A thread that decodes the stored chunks and feeds pg_restore ``--list`` and the
    full read; ``quit`` once the full read stopped reading or the stream did not decode."""

    def __init__(
        self,
        verify: list[str],
        env: Mapping[str, str],
        decoder: Decoder,
        stack: ExitStack,
        outputs: tuple[IO[bytes], IO[bytes], IO[bytes]],
    ) -> None:
        self.listing, self.list_err, self.verify_err = outputs  # --list's stdout, the stderrs
        self.lister = Feeder([verify[0], "--list"], env, self.listing, self.list_err)
        stack.callback(stop, self.lister.process)
        self.reader = Feeder(verify, env, subprocess.DEVNULL, self.verify_err)
        stack.callback(stop, self.reader.process)
        self.decoder = decoder
        self.quit = False
        self.error: str | None = None  # why the stream could not be verified, if it could not
        self.chunks: queue.Queue[bytes | None] = queue.Queue(VERIFY_QUEUE_CHUNKS)
        self.thread = threading.Thread(target=self._run, name="backup-verify", daemon=True)
        self.thread.start()
        stack.callback(self._abandon)

    def put(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def _run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            if not self.quit:
                self._feed(chunk)
        if not self.quit:
            try:
                self.decoder.finish()
            except StreamDecodeError as exc:
                self.error, self.quit = f"it does not decompress: {exc}", True

    def _feed(self, chunk: bytes) -> None:
        try:
            for data in self.decoder.decode(chunk):
                self.lister.feed(data)  # it stops reading after the table of contents
                if not self.reader.feed(data):
                    self.quit = True  # whatever it says, the dump is not proven
                    return
        except StreamDecodeError as exc:
            self.error, self.quit = f"it does not decompress: {exc}", True
        except Exception as exc:  # the thread must go on draining, or the dump blocks
            self.error, self.quit = f"{type(exc).__name__}: {exc}", True

    def finish(self) -> tuple[int, int]:
        """Wait for the thread and both readers: their exit codes (list, full read)."""
        self.chunks.put(None)
        self.thread.join()
        return self.lister.finish(), self.reader.finish()

    def toc_entries(self) -> int:
        self.listing.seek(0)
        found = _TOC_ENTRIES.search(self.listing.read().decode(errors="replace"))
        return int(found.group(1)) if found else 0

    def _abandon(self) -> None:
        """On the way out after a failure: kill the readers so the thread cannot block on
        their pipes, and let it drain."""
        if self.thread.is_alive():
            self.quit = True
            self.lister.kill()
            self.reader.kill()
            self.chunks.put(None)
            self.thread.join()


def stream_dump(
    dump: list[str],
    verify: list[str],
    *,
    env: Mapping[str, str],
    writer: BackupWriter,
    encoder: Encoder,
    decoder: Decoder,
    on_bytes: Callable[[int], None],
) -> DumpResult:
    """Run ``dump``; store its output through ``encoder`` and verify it through ``decoder``.

    ``on_bytes`` is told the archive's bytes so far. Raises ``BackupError`` when
    pg_dump fails or what was stored does not read back as a whole archive, and
    whatever the writer raises (``StorageError``); the children are stopped in
    every case.
    """
    started = time.monotonic()
    with ExitStack() as stack:
        dump_err = stack.enter_context(tempfile.TemporaryFile())
        producer = subprocess.Popen(dump, stdout=subprocess.PIPE, stderr=dump_err, env=dict(env))
        stack.callback(stop, producer)
        listing, list_err, verify_err = (
            stack.enter_context(tempfile.TemporaryFile()) for _ in range(3)
        )
        verifier = _Verifier(verify, env, decoder, stack, (listing, list_err, verify_err))
        digest, size, archive_size = hashlib.sha256(), 0, 0

        def store(chunk: bytes) -> None:
            nonlocal size
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                writer.write(chunk)
                verifier.put(chunk)

        assert producer.stdout is not None
        while not verifier.quit and (raw := producer.stdout.read(CHUNK)):
            archive_size += len(raw)
            store(encoder.update(raw))
            on_bytes(archive_size)
        verifier_quit = verifier.quit
        if verifier_quit:
            stop(producer)
        else:
            store(encoder.finish())
        dump_rc = producer.wait()
        dump_s = time.monotonic() - started
        list_rc, verify_rc = verifier.finish()
        verify_s = time.monotonic() - started - dump_s
        if dump_rc != 0 and not verifier_quit:
            raise BackupError(f"pg_dump failed: {_exit_reason(dump_rc, dump_err)}")
        if verifier.error is not None:
            raise BackupError(f"the stored dump could not be verified: {verifier.error}")
        if list_rc != 0:
            raise BackupError(
                f"the dump is not a readable archive: {stderr_tail(verifier.list_err)}"
            )
        if verify_rc != 0 or verifier_quit:
            raise BackupError(
                f"the dump does not read back in full: {stderr_tail(verifier.verify_err)}"
            )
        toc_entries = verifier.toc_entries()
    return DumpResult(
        size=size,
        archive_size=archive_size,
        sha256=digest.hexdigest(),
        toc_entries=toc_entries,
        dump_s=dump_s,
        verify_s=verify_s,
    )


def _exit_reason(returncode: int, stderr: IO[bytes]) -> str:
    """Why a child failed: the signal that killed it (it wrote nothing then), or its stderr."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"it was killed by {name} (by an operator, the OOM killer or a timeout)"
    return stderr_tail(stderr)
