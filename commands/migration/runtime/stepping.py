"""The parent's side of one stepped env.py run (the child's ``migrate``).

The child says which revision it is about to run (``ready``) and waits; the
parent records the step, then lets it go (``go``) with the session settings
it wants, and gets the revision's duration once it is committed. ``stop``
ends the run cleanly at a revision boundary. A failure ends the env.py run:
``AlembicError`` names the revision that was in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from commands.errors import AlembicError
from commands.migration.runtime.channel import ChildProcess
from commands.migration.script.revision_graph import Direction


@dataclass(frozen=True)
class StepResult:
    """One revision applied or undone, and how long it took inside Alembic."""

    revision: str
    direction: Direction
    duration_s: float
    wall_s: float


@dataclass(frozen=True)
class Ready:
    """The child is about to run ``revision`` (for the ``round``-th version table env.py
    migrates, usually 1) on the backend ``backend_pid``."""

    revision: str
    round: int
    backend_pid: int | None
    database: str | None = None  # told with the run's first revision, as is
    dialect: str | None = None  # the connection's ("sqlite": not PostgreSQL at all)


class MigrationRun:
    """One env.py run being stepped; make it with ``AlembicSession.migrate``."""

    def __init__(self, child: ChildProcess, direction: Direction) -> None:
        self.child = child
        self.direction = direction
        self.ready: Ready | None = None
        self.ended = False
        self._outcome: dict[str, Any] | None = None

    def next_revision(
        self, *, deadline: float | None = None, cancel: threading.Event | None = None
    ) -> Ready | None:
        """The revision the child will run next, or None once the env.py run is over.

        Raises ``AlembicError`` when env.py failed before reaching a revision.
        """
        message = self.child.receive("the migration", deadline=deadline, cancel=cancel)
        if "ready" in message:
            data = message["ready"]
            self.ready = Ready(
                data["revision"],
                int(data.get("round", 1)),
                data.get("backend_pid"),
                data.get("database"),
                data.get("dialect"),
            )
            return self.ready
        self._end(message)
        return None

    def go(
        self,
        *,
        settings: Mapping[str, str] | None = None,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
    ) -> StepResult:
        """Run the revision announced by ``next_revision``, with ``settings`` (``SET``s)."""
        assert self.ready is not None and not self.ended
        revision, started = self.ready.revision, time.monotonic()
        self.child.send("next", settings=dict(settings or {}))
        message = self.child.receive(f"apply {revision}", deadline=deadline, cancel=cancel)
        if "done" not in message:
            self._end(message)
            raise AlembicError("env.py ended the run mid-revision", revision=revision)
        self.ready = None
        return StepResult(
            revision=revision,
            direction=self.direction,
            duration_s=float(message["done"]["duration_s"]),
            wall_s=time.monotonic() - started,
        )

    def stop(self) -> None:
        """End the env.py run before the announced revision (nothing more runs)."""
        if self.ready is not None and not self.ended:
            self.ready = None
            self.child.send("stop")
            self._end(self.child.receive("stopping"))

    def finish(
        self, *, deadline: float | None = None, cancel: threading.Event | None = None
    ) -> None:
        """Wait for the end of a run with nothing more to do (it must not ask for more)."""
        if self.ended:
            return
        ready = self.next_revision(deadline=deadline, cancel=cancel)
        if ready is not None:
            self.stop()
            raise AlembicError(
                f"env.py wanted to run {ready.revision}, which is not in the plan",
                revision=ready.revision,
            )

    def _end(self, message: dict[str, Any]) -> None:
        self.ended = True
        self._outcome = self.child.result(message)
