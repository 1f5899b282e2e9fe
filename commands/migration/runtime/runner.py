"""Drives Alembic through a child process.

Why a child: the project's env.py may import its whole application (with its
own dependencies, under its own interpreter), and a revision in flight can be
stopped by killing the child's process group, which makes PostgreSQL roll the
revision's transaction back. A session is one child answering requests in
turn, for a whole run: the interpreter's start-up and the application's
imports are paid once, and ``migrate`` steps one env.py run through every
revision (``stepping.py``), so progress, timing and the failure point stay
exact at little more than plain Alembic's cost.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from commands.background import lower
from commands.config.alembic_project import AlembicProject
from commands.errors import AlembicError, ProjectError
from commands.migration.runtime.channel import AlembicStopped, ChildLines, ChildProcess
from commands.migration.runtime.child_env import child_environment
from commands.migration.runtime.stepping import MigrationRun, StepResult
from commands.migration.runtime.target_check import HAND_URL, elsewhere
from commands.migration.script.revision_graph import Direction, Revision, RevisionGraph
from commands.postgres.database_url import DatabaseUrl
from commands.targets import TargetHandle

CHILD_SCRIPT = Path(__file__).with_name("child.py")
READING_VERSIONS = "reading the version table through env.py"  # the child's own words
__all__ = [
    "AlembicRunner",
    "AlembicSession",
    "AlembicStopped",
    "ModelsComparison",
    "OfflineSql",
    "ProjectState",
]


@dataclass(frozen=True)
class ProjectState:
    """The revision graph, what the database's version table holds, and where that table is."""

    graph: RevisionGraph
    current: tuple[str, ...]
    version_table: str = "alembic_version"
    script_dir: str | None = None  # where env.py is
    handed: HandedUrl | None = None


@dataclass(frozen=True)
class HandedUrl:
    """The URL env.py was handed (password masked), the driver it names, and why."""

    url: str | None
    driver: str | None
    reason: str

    def describe(self) -> str:
        """'postgresql+asyncpg://app:***@db/app (asyncpg: installed; …)'."""
        if self.url is None:
            return "no URL"
        return f"{self.url} ({self.driver or 'no driver'}: {self.reason})"


@dataclass(frozen=True)
class OfflineSql:
    """Each revision's offline SQL, and why some could not be rendered (one line each)."""

    sql: Mapping[str, str] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelsComparison:
    """Whether env.py exposes ``target_metadata``, and what differs from the database."""

    has_metadata: bool
    differences: tuple[str, ...] = ()
    at_head: bool = True  # compared only there (below head the models differ by design)


class AlembicSession:
    """One live child process; requests are answered in order. Not thread-safe.

    ``database``: the one env.py is handed; a version table read elsewhere is refused.
    """

    def __init__(self, child: ChildProcess, database: DatabaseUrl | None = None) -> None:
        self.child = child
        self.database = database

    @property
    def pid(self) -> int:
        return self.child.process.pid

    def close(self) -> None:
        """End the child now (the ``session()`` that made it also closes it, harmlessly)."""
        self.child.close()

    @property
    def alive(self) -> bool:
        """False once the child was stopped (deadline, cancel) or died."""
        return self.child.process.poll() is None

    def graph(self) -> RevisionGraph:
        return _graph(self.request("graph"))

    def inspect(self) -> ProjectState:
        """Graph, current revisions and the version table, in one request."""
        result = self._read_on_target(self.request("inspect"))
        handed = result.get("handed")
        return ProjectState(
            graph=_graph(result),
            current=tuple(result["current"]),
            version_table=_table_name(result.get("version_table")),
            handed=HandedUrl(handed["url"], handed["driver"], handed["reason"]) if handed else None,
            script_dir=result.get("script_dir"),
        )

    def current(self, step: str | None = None) -> tuple[str, ...]:
        """What the version table holds; ``step`` names the run's step in an error
        ("verifying the result"), else "reading the version table"."""
        return tuple(self._read_on_target(self.request("current", step=step), step)["current"])

    def _read_on_target(
        self, result: Mapping[str, Any], step: str | None = None
    ) -> Mapping[str, Any]:
        """``result`` if env.py read the version table on the database it was handed; else
        the project's error saying where it read it (that revision is another database's)."""
        if self.database is None:
            return result
        connected = result.get("connected") or {}
        where = elsewhere(self.database, connected.get("dialect"), connected.get("database"))
        if where is not None:
            raise ProjectError(
                f"env.py connected to {where}, not to {self.database.display()}: what its"
                f" version table holds is not this database's. {HAND_URL}",
                target=self.child.target,
                step=step or READING_VERSIONS,
                where=None,
                hint=None,
            )
        return result

    def walk(self, current: Sequence[str], goal: str, direction: Direction) -> tuple[str, ...]:
        """The revisions from ``current`` to ``goal`` (a revision, ``base`` or ``-N``), in
        the order plain Alembic would run them."""
        found = self.request("walk", current=list(current), goal=goal, direction=direction.value)
        return tuple(found)

    def offline_sql(
        self, steps: Sequence[tuple[str, Sequence[str]]], direction: Direction
    ) -> OfflineSql:
        """The SQL of each ``(revision, version rows before it)``, rendered offline."""
        if not steps:
            return OfflineSql()
        payload = [{"revision": rev, "starting": list(before)} for rev, before in steps]
        result = self.request("sql", direction=direction.value, steps=payload)
        return OfflineSql(dict(result["sql"]), dict(result["unavailable"]))

    def migrate(
        self, revisions: Sequence[str], direction: Direction, *, env: Mapping[str, str]
    ) -> MigrationRun:
        """Start one env.py run over ``revisions``; the caller steps it (``stepping.py``)."""
        self.child.send(
            "migrate", revisions=list(revisions), direction=direction.value, env=dict(env)
        )
        return MigrationRun(self.child, direction)

    def apply(
        self,
        revision: str,
        direction: Direction,
        *,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StepResult:
        """Apply or undo exactly one revision in an env.py run of its own.

        Past ``deadline`` (``time.monotonic()``), or once ``cancel`` is set,
        the child's process group is stopped and ``AlembicStopped`` raised.
        """
        run = self.migrate([revision], direction, env=env or {})
        ready = run.next_revision(deadline=deadline, cancel=cancel)
        if ready is None:
            raise AlembicError(f"env.py did not run revision {revision}", revision=revision)
        result = run.go(deadline=deadline, cancel=cancel)
        run.finish(deadline=deadline, cancel=cancel)
        return result

    def compare_models(self) -> ModelsComparison:
        """Alembic's autogenerate comparison of env.py's ``target_metadata`` with the
        database (``alembic check``), in the project's own process."""
        result = self.request("models")
        return ModelsComparison(
            bool(result["metadata"]), tuple(result["differences"]), bool(result["at_head"])
        )

    def stamp(self, revisions: Sequence[str]) -> None:
        """Set the version table to ``revisions`` without running anything."""
        self.request("stamp", revisions=list(revisions))

    def request(
        self,
        operation: str,
        *,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
        **payload: Any,
    ) -> Any:
        """Send one request and wait for its answer."""
        self.child.send(operation, **payload)
        return self.child.result(self.child.receive(operation, deadline=deadline, cancel=cancel))


class AlembicRunner:
    """One target's Alembic project against one database; opens sessions."""

    def __init__(
        self, project: AlembicProject, database: DatabaseUrl | None, target: str | None = None
    ) -> None:
        self.project = project
        self.database = database
        self.target = target  # named in the errors of the project's process

    @classmethod
    def for_target(cls, handle: TargetHandle) -> AlembicRunner:
        """The runner of a target's project against its database."""
        return cls(handle.config.alembic, handle.database, handle.name)

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
                    cwd=self.workdir(),
                    env=child_environment(self.project, self.database, workdir=self.workdir()),
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
            lower(process.pid)  # started for background work: it yields the CPU to answers
            child = ChildProcess(process, ChildLines(read_fd), log, self.target)
            try:
                yield AlembicSession(child, self.database)
            finally:
                child.close()
                child.lines.close()

    def graph(self) -> RevisionGraph:
        with self.session() as session:
            return session.graph()

    def inspect(self) -> ProjectState:
        with self.session() as session:
            return session.inspect()

    def current(self) -> tuple[str, ...]:
        with self.session() as session:
            return session.current()

    def apply(self, revision: str, direction: Direction, **options: Any) -> StepResult:
        with self.session() as session:
            return session.apply(revision, direction, **options)

    def _command(self) -> list[str]:
        command = [self.project.python, str(CHILD_SCRIPT), "--ini-section", self.project.section]
        command += [arg for value in self.project.x_args for arg in ("-x", value)]
        command += ["--url-options", ",".join(self.project.url_ini_options)]
        if self.project.flask_app:
            command += ["--flask-app", self.project.flask_app]
        if self.project.config_file is not None:
            command += ["--config", str(self.project.config_file)]
        if self.project.script_location is not None:
            command += ["--script-location", str(self.project.script_location)]
        return command

    def workdir(self) -> Path:
        """Where the child runs: ``working_dir``, else beside alembic.ini, as ``alembic``
        itself is usually run."""
        if self.project.working_dir is not None:
            return self.project.working_dir
        if self.project.config_file is not None:
            return self.project.config_file.parent
        assert self.project.script_location is not None
        return self.project.script_location.parent


def _graph(result: Mapping[str, Any]) -> RevisionGraph:
    return RevisionGraph(Revision.from_json(r) for r in result["revisions"])


def _table_name(table: Mapping[str, Any] | None) -> str:
    if not table:
        return "alembic_version"
    name = str(table.get("name") or "alembic_version")
    return f"{table['schema']}.{name}" if table.get("schema") else name
