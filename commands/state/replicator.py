"""The replicator: ``litestream replicate`` on the state file, kept running, and how far
behind it is.

One thread owns the child: it starts it, asks it each second where the file and the
replica stand (its control socket), starts it again if it died (waiting longer after
each quick death, up to ``RESTART_MAX_S``), and stops it on ``stop()`` (SIGTERM: it
uploads what is left first). The child is started from that thread with the kernel
told to end it when the thread's process dies, so a killed bot leaves no replicator
behind to race the next one.

The lag is measured, not guessed: each local transaction id is stamped when first
seen; the seconds behind are the age of the oldest one the replica does not hold
yet. Replication has *stopped* when that age, or the time the replicator has not
answered, passes ``stopped_after`` (a minute): ``on_stopped`` is called once, and
``on_resumed`` once when it catches up again.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import IO

from audit.store import Clock, utc_now
from commands.state.litestream import (
    SHUTDOWN_SYNC_TIMEOUT_S,
    ReplicationError,
    litestream_binary,
    replicator_environment,
    sync_position,
    write_config,
)
from commands.state.location import StateReplica
from commands.state.replica_status import Lag, Notice, Position, ReplicaStatus

log = logging.getLogger(__name__)

PROBE_S = 1.0
STOPPED_AFTER_S = 60.0
RESTART_MIN_S, RESTART_MAX_S = 1.0, 30.0
HEALTHY_RUN_S = 60.0  # a child that ran this long died of something new: restart at once
PR_SET_PDEATHSIG = 1


class Replicator:
    """Supervises ``litestream replicate`` for ``database``; ``start()``, ``status()``,
    ``stop()``."""

    def __init__(
        self,
        database: Path,
        replica: StateReplica,
        *,
        on_stopped: Notice = lambda _status: None,
        on_resumed: Notice = lambda _status: None,
        stopped_after: float = STOPPED_AFTER_S,
        probe_every: float = PROBE_S,
        clock: Clock = utc_now,
    ) -> None:
        self.database = database.resolve()
        self.replica = replica
        self._on_stopped = on_stopped
        self._on_resumed = on_resumed
        self._stopped_after = stopped_after
        self._probe_every = probe_every
        self._clock = clock
        self._folder = Path(tempfile.mkdtemp(prefix="migrate-bot-litestream-"))
        self._socket = self._folder / "control.sock"
        self._config = write_config(
            self._folder, database=self.database, replica=replica, control_socket=self._socket
        )
        self._binary = litestream_binary()
        self._lag = Lag()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="replicator", daemon=True)
        self._child: subprocess.Popen[str] | None = None
        self._child_since = 0.0
        self._restarts = 0
        self._position: Position | None = None
        self._behind: float | None = None
        self._last_replicated_at: datetime | None = None
        self._silent_since: float | None = time.monotonic()
        self._stopped = False
        self._error: str | None = None

    def start(self) -> Replicator:
        self._thread.start()
        return self

    def status(self) -> ReplicaStatus:
        with self._lock:
            child = self._child
            return ReplicaStatus(
                replica=str(self.replica),
                running=child is not None and child.poll() is None,
                restarts=self._restarts,
                txid=self._position.txid if self._position else None,
                replicated_txid=self._position.replicated_txid if self._position else None,
                seconds_behind=self._behind,
                last_replicated_at=self._last_replicated_at,
                stopped=self._stopped,
                error=self._error,
            )

    def stop(self, timeout: float = SHUTDOWN_SYNC_TIMEOUT_S + 5) -> None:
        """Stop the child (it uploads what is left first) and the thread."""
        self._stop.set()
        self._thread.join(timeout + 5)
        shutil.rmtree(self._folder, ignore_errors=True)

    # --- the supervising thread ------------------------------------------------------

    def _supervise(self) -> None:
        delay = RESTART_MIN_S
        next_start = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                child = self._child
                if child is not None and child.poll() is not None:
                    ran = now - self._child_since
                    self._note_problem(f"litestream exited with {child.returncode}")
                    log.warning(
                        "the state's replicator exited with %s after %.0f s; starting it again",
                        child.returncode,
                        ran,
                    )
                    self._child = None
                    delay = RESTART_MIN_S if ran > HEALTHY_RUN_S else min(delay * 2, RESTART_MAX_S)
                    next_start = now + delay
                if self._child is None and now >= next_start:
                    self._launch()
                else:
                    self._probe()
                self._judge()
                self._stop.wait(self._probe_every)
        finally:
            self._end_child()

    def _launch(self) -> None:
        argv = [str(self._binary), "replicate", "-config", str(self._config), "-no-expand-env"]
        try:
            child = subprocess.Popen(
                argv,
                env=replicator_environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                preexec_fn=_end_with_parent,  # noqa: PLW1509  # only a prctl call, nothing locked
            )
        except OSError as exc:
            self._note_problem(f"litestream could not start: {exc}")
            return
        with self._lock:
            if self._child_since:
                self._restarts += 1
            self._child = child
            self._child_since = time.monotonic()
        assert child.stdout is not None
        threading.Thread(
            target=_relay, args=(child.stdout,), name="replicator-log", daemon=True
        ).start()
        log.info("replicating the state %s to %s", self.database, self.replica)

    def _probe(self) -> None:
        if self._child is None:
            return
        try:
            position = sync_position(self._socket, self.database)
        except ReplicationError as exc:
            self._note_problem(str(exc))
            return
        behind = self._lag.observe(position, time.monotonic())
        with self._lock:
            self._position = position
            self._behind = behind
            self._silent_since = None
            self._error = None
            if not position.behind:
                self._last_replicated_at = self._clock()

    def _note_problem(self, problem: str) -> None:
        with self._lock:
            self._error = problem
            self._behind = None
            if self._silent_since is None:
                self._silent_since = time.monotonic()

    def _judge(self) -> None:
        """Call ``on_stopped`` when replication has been behind or silent for too long,
        ``on_resumed`` when it is back; each once per episode."""
        now = time.monotonic()
        with self._lock:
            behind = self._behind if self._behind is not None else 0.0
            silent = now - self._silent_since if self._silent_since is not None else 0.0
            stopped = max(behind, silent) > self._stopped_after
            if stopped == self._stopped:
                return
            self._stopped = stopped
        status = self.status()
        try:
            (self._on_stopped if stopped else self._on_resumed)(status)
        except Exception:  # telling people must not end the replication
            log.exception("could not tell of the replication's %s", "stop" if stopped else "return")

    def _end_child(self) -> None:
        child = self._child
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(SHUTDOWN_SYNC_TIMEOUT_S + 5)
        except subprocess.TimeoutExpired:
            log.warning("the state's replicator did not stop in time; killing it")
            child.kill()
            child.wait()


def _relay(output: IO[str]) -> None:
    """The replicator's own log lines into ours (they name the replica, no credential)."""
    replicator_log = logging.getLogger("litestream")
    with contextlib.suppress(ValueError, OSError):
        for line in output:
            text = line.rstrip()
            level = (
                logging.WARNING if "level=ERROR" in text or "level=WARN" in text else logging.INFO
            )
            replicator_log.log(level, "%s", text)


if sys.platform.startswith("linux"):
    _prctl = ctypes.CDLL(None, use_errno=True).prctl

    def _end_with_parent() -> None:
        """In the child before exec: SIGTERM it when the bot's thread that started it ends."""
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

else:  # elsewhere the shutdown stops it; a killed bot may leave it running

    def _end_with_parent() -> None:
        pass
