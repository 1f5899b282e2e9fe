"""The wire to the Alembic child: JSON lines in on stdin, JSON lines back on a pipe.

Kept apart from what the messages mean (``runner.py``, ``stepping.py``): both
speak through one ``ChildProcess``, which also owns stopping the child, the
only way to stop a revision in flight (PostgreSQL then rolls it back).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from audit.redact import redact
from commands.errors import AlembicError, ProjectError

STOP_GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.05
_QUICK_EXIT_S = 0.05
_EXIT_STATUS_S = 1.0  # how long an error waits for the status of a child that closed its pipe
_LOG_TAIL = 4000


class AlembicStopped(AlembicError):
    """The child was stopped on purpose (deadline or cancel) before it answered."""


class ChildLines:
    """JSON lines from the child's result pipe, read without Python's buffering so that
    ``select`` never misses a line already read into a buffer."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._pending = b""

    def read(self, deadline: float | None, cancel: threading.Event | None) -> dict[str, Any] | str:
        """The next message, or why waiting stopped ("at its deadline", "on request", "eof")."""
        while b"\n" not in self._pending:
            readable, _, _ = select.select([self.fd], [], [], _POLL_SECONDS)
            if readable:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    return "eof"
                self._pending += chunk
            elif deadline is not None and time.monotonic() >= deadline:
                return "at its deadline"
            elif cancel is not None and cancel.is_set():
                return "on request"
        line, _, self._pending = self._pending.partition(b"\n")
        return dict(json.loads(line))

    def close(self) -> None:
        os.close(self.fd)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's group, SIGKILL it if it lingers past the grace period."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


_BACKGROUND_LINK = re.compile(r"\s*\(Background on this error at: [^)]*\)")
log = logging.getLogger(__name__)


def unwrap(outcome: Mapping[str, Any], target: str | None = None) -> Any:
    """An answer's result, or its error raised: a ``ProjectError`` naming the target, the
    step and the project's line (its traceback logged), else an ``AlembicError``."""
    if "error" not in outcome:
        return outcome["ok"]
    error = outcome["error"]
    message = _BACKGROUND_LINK.sub("", redact(error["message"])).strip()
    if "step" not in error:
        raise AlembicError(
            f"{error['type']}: {message}",
            sqlstate=error.get("sqlstate"),
            revision=error.get("revision"),
        )
    failed = ProjectError(
        f"{error['type']}: {message}",
        target=target,
        step=error["step"],
        where=error.get("where"),
        hint=redact(error["hint"]) if error.get("hint") else None,
        sqlstate=error.get("sqlstate"),
        revision=error.get("revision"),
    )
    log.info("%s\n%s", failed, redact(error.get("traceback") or "").rstrip())
    raise failed


class ChildProcess:
    """One live child: send a request, receive its messages, stop it. Not thread-safe."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        lines: ChildLines,
        log: IO[str],
        target: str | None = None,
    ) -> None:
        self.process = process
        self.lines = lines
        self._log = log
        self.target = target  # named in the errors of the project's process

    def result(self, outcome: Mapping[str, Any]) -> Any:
        """An answer's result, or its error raised naming the target (``unwrap``)."""
        return unwrap(outcome, self.target)

    def send(self, operation: str, **payload: Any) -> None:
        if self.process.poll() is not None:
            raise AlembicError(f"Alembic exited early: {self.log_tail()}")
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps({"op": operation, **payload}) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            raise AlembicError(f"Alembic exited early: {self.log_tail()}") from None

    def receive(
        self, what: str, *, deadline: float | None = None, cancel: threading.Event | None = None
    ) -> dict[str, Any]:
        """The child's next message; stops the child at the deadline or on cancel."""
        message = self.lines.read(deadline, cancel)
        if message == "eof":
            raise AlembicError(f"Alembic exited without answering: {self.log_tail()}")
        if isinstance(message, str):
            stop_process_group(self.process)
            self.close()
            raise AlembicStopped(f"stopped {message} during {what}")
        return message

    def log_tail(self) -> str:
        """The last line env.py or Alembic wrote (a traceback's last line), passwords masked."""
        self._log.seek(0)
        lines = self._log.read()[-_LOG_TAIL:].strip().splitlines()
        if lines:
            return redact(lines[-1])
        try:  # its pipe closes a moment before its status can be read
            return f"exit status {self.process.wait(_EXIT_STATUS_S)}, nothing written"
        except subprocess.TimeoutExpired:
            return "nothing written"

    def close(self) -> None:
        """End the child: politely (stdin closed) if idle, by signal if still working.

        An idle child exits by itself once its stdin closes; its interpreter's
        shutdown is not waited for here (a reaper thread stops it if it lingers).
        """
        if self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(_QUICK_EXIT_S)
        except subprocess.TimeoutExpired:
            threading.Thread(target=_reap, args=(self.process,), daemon=True).start()


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        stop_process_group(process)
