"""One pg_dump, read once, its bytes handed to everything that needs them.

pg_dump writes the custom-format archive to a pipe. Each chunk is hashed,
passed to the backup's writer (a local file or S3 parts), and fed to two
pg_restore processes: ``--list``, which proves the table of contents reads,
and a verifier that reads every data block to the end (into ``/dev/null``,
or into a scratch database when the target asks for a restore test). So the
dump is verified, hashed and stored while it is being written, and never
read back. A truncated archive passes ``--list`` (which stops after the table
of contents) but not the verifier.
"""

from __future__ import annotations

import contextlib
import hashlib
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

from commands.backup.records import BackupError
from commands.backup.storage import BackupWriter
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.pg_tools import PgTools, stderr_tail

CHUNK = 1 << 20
_TOC_ENTRIES = re.compile(r"^;\s+TOC Entries:\s+(\d+)", re.M)


@dataclass(frozen=True)
class DumpResult:
    """What the stream produced: bytes, their sha256, and how long each part took."""

    size: int
    sha256: str
    toc_entries: int
    dump_s: float
    verify_s: float


def dump_command(
    tools: PgTools, database: DatabaseUrl, *, snapshot: str, compression: str, lock_timeout_ms: int
) -> list[str]:
    """pg_dump to stdout in the custom format, inside the exported ``snapshot``."""
    return [
        tools.pg_dump,
        "--format=custom",
        f"--compress={compression}",
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


class _Feeder:
    """A child process fed through its stdin; notices when it stops reading."""

    def __init__(
        self, command: list[str], env: Mapping[str, str], stdout: IO[bytes] | int, stderr: IO[bytes]
    ) -> None:
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, env=dict(env)
        )
        self.open = True

    def feed(self, chunk: bytes) -> bool:
        """Write ``chunk``; False once the process has closed its end."""
        if self.open:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(chunk)
            except BrokenPipeError:
                self.open = False
        return self.open

    def finish(self) -> int:
        if self.open:
            self.open = False
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()  # type: ignore[union-attr]
        return self.process.wait()


def stream_dump(
    dump: list[str],
    verify: list[str],
    *,
    env: Mapping[str, str],
    writer: BackupWriter,
    on_bytes: Callable[[int], None],
) -> DumpResult:
    """Run ``dump`` and feed its output to the writer, ``pg_restore --list`` and ``verify``.

    Raises ``BackupError`` when pg_dump fails or the archive does not read
    back, and whatever the writer raises (``StorageError``); the children are
    stopped in every case.
    """
    pg_restore = verify[0]
    started = time.monotonic()
    with ExitStack() as stack:
        dump_err, listing, list_err, verify_err = (
            stack.enter_context(tempfile.TemporaryFile()) for _ in range(4)
        )
        producer = subprocess.Popen(dump, stdout=subprocess.PIPE, stderr=dump_err, env=dict(env))
        stack.callback(_stop, producer)
        lister = _Feeder([pg_restore, "--list"], env, listing, list_err)
        stack.callback(_stop, lister.process)
        verifier = _Feeder(verify, env, subprocess.DEVNULL, verify_err)
        stack.callback(_stop, verifier.process)
        digest, size = hashlib.sha256(), 0
        assert producer.stdout is not None
        while chunk := producer.stdout.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            lister.feed(chunk)
            if not verifier.feed(chunk):
                break  # the verifier stopped reading: whatever it says, the dump is not proven
            writer.write(chunk)
            on_bytes(size)
        verifier_quit = not verifier.open
        if verifier_quit:
            _stop(producer)
        dump_rc = producer.wait()
        dump_s = time.monotonic() - started
        list_rc, verify_rc = lister.finish(), verifier.finish()
        verify_s = time.monotonic() - started - dump_s
        if dump_rc != 0 and not verifier_quit:
            raise BackupError(f"pg_dump failed: {_exit_reason(dump_rc, dump_err)}")
        if list_rc != 0:
            raise BackupError(f"the dump is not a readable archive: {stderr_tail(list_err)}")
        if verify_rc != 0 or verifier_quit:
            raise BackupError(f"the dump does not read back in full: {stderr_tail(verify_err)}")
        listing.seek(0)
        toc = _TOC_ENTRIES.search(listing.read().decode(errors="replace"))
    return DumpResult(
        size=size,
        sha256=digest.hexdigest(),
        toc_entries=int(toc.group(1)) if toc else 0,
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


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` if it is still running, reap it and close its pipes."""
    if process.poll() is None:
        process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
