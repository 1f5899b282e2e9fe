"""Child processes fed through their stdin (pg_restore, reading a backup as it streams by),
and stopping them, whatever happened, so none outlives the backup or restore that started it."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
from collections.abc import Mapping
from typing import IO

PIPE_BYTES = 1 << 20  # Linux's limit for an unprivileged process (/proc/sys/fs/pipe-max-size)


def widen(pipe: IO[bytes] | None) -> None:
    """Give ``pipe`` a 1 MiB buffer instead of 64 KiB: a child that writes in small pieces
    then wakes its reader (and a reader its writer) far less often. Best effort."""
    if pipe is not None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux, or capped lower
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class Feeder:
    """A child process fed through its stdin; notices when it stops reading."""

    def __init__(
        self, command: list[str], env: Mapping[str, str], stdout: IO[bytes] | int, stderr: IO[bytes]
    ) -> None:
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, env=dict(env)
        )
        widen(self.process.stdin)
        self.open = True

    def feed(self, chunk: bytes | memoryview) -> bool:
        """Write ``chunk``; False once the process has closed its end."""
        if self.open:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(chunk)
            except BrokenPipeError:
                self.open = False
        return self.open

    def finish(self) -> int:
        """Close its stdin (end of input) and wait for it; its exit code."""
        if self.open:
            self.open = False
            with contextlib.suppress(BrokenPipeError):
                if self.process.stdin is not None:  # started with stdin=PIPE, so it is there
                    self.process.stdin.close()
        return self.process.wait()

    def kill(self) -> None:
        """Kill it without touching its pipes (another thread may be writing to them)."""
        if self.process.poll() is None:
            self.process.kill()


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` if it is still running, reap it and close its pipes."""
    if process.poll() is None:
        process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
