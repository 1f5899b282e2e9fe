"""Drives Alembic through a child process.

Why a child: the project's env.py may import its whole application (with its
own dependencies, under its own interpreter), and a revision in flight can be
stopped by killing the child's process group, which makes PostgreSQL roll the
revision's transaction back. A session is one child answering requests in
turn; each request runs env.py afresh and applies at most one revision, so
progress, timing and the failure point are exact, while the interpreter's
start-up (about half a second of imports) is paid once per run.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audit.redact import redact
from commands.config.targets_file import AlembicProject
from commands.errors import AlembicError
from commands.migration.script.revision_graph import Direction, Revision, RevisionGraph
from commands.postgres.database_url import DatabaseUrl
from commands.targets import TargetHandle

CHILD_SCRIPT = Path(__file__).with_name("child.py")
STOP_GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.05
_LOG_TAIL = 4000


class AlembicStopped(AlembicError):
    """The child was stopped on purpose (deadline or cancel) before it answered."""


@dataclass(frozen=True)
class StepResult:
    """One revision applied or undone, and how long it took inside Alembic."""

    revision: str
    direction: Direction
    duration_s: float
    wall_s: float


@dataclass(frozen=True)
class ProjectState:
    """The revision graph and what the database's version table holds."""

    graph: RevisionGraph
    current: tuple[str, ...]


class AlembicSession:
    """One live child process; requests are answered in order. Not thread-safe."""

    def __init__(self, process: subprocess.Popen[bytes], results: IO[str], log: IO[str]) -> None:
        self.process = process
        self._results = results
        self._log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def graph(self) -> RevisionGraph:
        return _graph(self.request("graph"))

    def inspect(self) -> ProjectState:
        """Graph and current revisions in one request."""
        result = self.request("inspect")
        return ProjectState(graph=_graph(result), current=tuple(result["current"]))

    def current(self) -> tuple[str, ...]:
        return tuple(self.request("current")["current"])

    def offline_sql(self, revisions: Sequence[str], direction: Direction) -> dict[str, str]:
        """The SQL of each revision on its own (``alembic upgrade prev:rev --sql``)."""
        if not revisions:
            return {}
        return dict(self.request("sql", revisions, direction)["sql"])

    def apply(
        self,
        revision: str,
        direction: Direction,
        *,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StepResult:
        """Apply or undo exactly one revision.

        ``deadline`` is a ``time.monotonic()`` value; past it, or once ``cancel``
        is set, the child's process group is stopped and ``AlembicStopped`` is
        raised (the session is then closed). ``env`` sets variables for this
        request only (``PGOPTIONS``, ``PGAPPNAME``): libpq reads them at connect.
        """
        started = time.monotonic()
        try:
            result = self.request(
                "apply", [revision], direction, deadline=deadline, cancel=cancel, env=env
            )
        except AlembicError as exc:
            raise type(exc)(str(exc), sqlstate=exc.sqlstate, revision=revision) from None
        return StepResult(
            revision=revision,
            direction=direction,
            duration_s=float(result["duration_s"]),
            wall_s=time.monotonic() - started,
        )

    def stamp(self, revisions: Sequence[str]) -> None:
        """Set the version table to ``revisions`` without running anything."""
        self.request("stamp", revisions)

    def request(
        self,
        operation: str,
        revisions: Sequence[str] = (),
        direction: Direction = Direction.UP,
        *,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Any:
        message = {
            "op": operation,
            "revisions": list(revisions),
            "direction": direction.value,
            "env": dict(env or {}),
        }
        if self.process.poll() is not None:
            raise AlembicError(f"Alembic exited early: {self._log_tail()}")
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()
        reason = self._wait_for_answer(deadline, cancel)
        if reason:
            stop_process_group(self.process)
            self.close()
            raise AlembicStopped(f"stopped {reason} during {operation} {' '.join(revisions)}")
        line = self._results.readline()
        if not line:
            raise AlembicError(f"Alembic exited without answering: {self._log_tail()}")
        return _unwrap(json.loads(line))

    def _wait_for_answer(
        self, deadline: float | None, cancel: threading.Event | None
    ) -> str | None:
        """Block until an answer is readable; why the child had to be stopped, or None."""
        while True:
            readable, _, _ = select.select([self._results], [], [], _POLL_SECONDS)
            if readable:
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return "at its deadline"
            if cancel is not None and cancel.is_set():
                return "on request"

    def _log_tail(self) -> str:
        self._log.seek(0)
        lines = self._log.read()[-_LOG_TAIL:].strip().splitlines()
        return redact(lines[-1]) if lines else f"exit status {self.process.poll()}"

    def close(self) -> None:
        """End the child: politely (stdin closed) if idle, by signal if still working."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(0.5 if self.process.poll() is None else None)
        except subprocess.TimeoutExpired:
            stop_process_group(self.process)
        self._results.close()


class AlembicRunner:
    """One target's Alembic project against one database; opens sessions."""

    def __init__(
        self,
        project: AlembicProject,
        database: DatabaseUrl | None,
        *,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.project = project
        self.database = database
        self.extra_env = dict(extra_env or {})

    @classmethod
    def for_target(cls, handle: TargetHandle) -> AlembicRunner:
        """The runner of a target's project against its database."""
        return cls(handle.config.alembic, handle.database)

    @contextmanager
    def session(self) -> Iterator[AlembicSession]:
        """A child process for a series of requests, ended on exit."""
        with tempfile.TemporaryFile("w+", encoding="utf-8", prefix="migrate-bot-alembic-") as log:
            read_fd, write_fd = os.pipe()
            try:
                process = subprocess.Popen(
                    [
                        *self._command(),
                        "--result-fd",
                        str(write_fd),
                        "--parent-pid",
                        str(os.getpid()),
                    ],
                    cwd=self._workdir(),
                    env=self._environment(),
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=log,
                    pass_fds=(write_fd,),
                    start_new_session=True,  # its own process group, so it can be stopped whole
                )
            except OSError as exc:
                os.close(read_fd)
                raise AlembicError(f"cannot start {self.project.python}: {exc}") from None
            finally:
                os.close(write_fd)
            session = AlembicSession(process, os.fdopen(read_fd, encoding="utf-8"), log)
            try:
                yield session
            finally:
                session.close()

    def graph(self) -> RevisionGraph:
        with self.session() as session:
            return session.graph()

    def inspect(self) -> ProjectState:
        with self.session() as session:
            return session.inspect()

    def current(self) -> tuple[str, ...]:
        with self.session() as session:
            return session.current()

    def offline_sql(self, revisions: Sequence[str], direction: Direction) -> dict[str, str]:
        with self.session() as session:
            return session.offline_sql(revisions, direction)

    def apply(self, revision: str, direction: Direction, **options: Any) -> StepResult:
        with self.session() as session:
            return session.apply(revision, direction, **options)

    def _command(self) -> list[str]:
        command = [self.project.python, str(CHILD_SCRIPT)]
        if self.project.config_file is not None:
            return [*command, "--config", str(self.project.config_file)]
        return [*command, "--script-location", str(self.project.script_location)]

    def _environment(self) -> dict[str, str]:
        environ = {**os.environ, **self.extra_env}
        environ.pop("DATABASE_URL", None)
        if self.database is not None:
            # the two conventions env.py files use: sqlalchemy.url and $DATABASE_URL
            environ["DATABASE_URL"] = self.database.for_sqlalchemy()
        environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self._workdir()), environ.get("PYTHONPATH", "")) if p
        )
        return environ

    def _workdir(self) -> Path:
        """Where the child runs: beside alembic.ini, as ``alembic`` itself would be run."""
        if self.project.config_file is not None:
            return self.project.config_file.parent
        assert self.project.script_location is not None
        return self.project.script_location.parent


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


def _unwrap(outcome: Mapping[str, Any]) -> Any:
    if "error" in outcome:
        error = outcome["error"]
        message = _BACKGROUND_LINK.sub("", redact(error["message"])).strip()
        raise AlembicError(f"{error['type']}: {message}", sqlstate=error.get("sqlstate"))
    return outcome["ok"]


def _graph(result: Mapping[str, Any]) -> RevisionGraph:
    return RevisionGraph(Revision.from_json(r) for r in result["revisions"])
