"""The stepping half of migrate-bot's Alembic child: one env.py run, revision by revision.

Loaded by ``child.py`` from its path (never through ``sys.path``, where a
module of ours could shadow one of the project's); like it, it needs only the
standard library, Alembic and SQLAlchemy. ``offline_sql`` renders a series of
revisions in one offline env.py run, cut per revision, going on after a
revision that cannot be rendered; ``Stepper`` is the work function of an
online run, which lets each revision go only when the parent says so.
"""

from __future__ import annotations

import io
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationStep
from alembic.script import ScriptDirectory

MAX_REASON = 300


class Channel(Protocol):
    """The parent, as the stepper speaks to it."""

    def read(self) -> dict[str, Any] | None: ...

    def say(self, message: dict[str, Any]) -> None: ...


def forced_environment(
    config: Config, scripts: ScriptDirectory, **options: Any
) -> EnvironmentContext:
    """env.py's ``context``, whose every configure() commits revision by revision.

    Set on the instance: ``alembic.context`` proxies to the instance's methods
    (a subclass would not get the module proxy installed).
    """
    environment = EnvironmentContext(config, scripts, **options)
    configure = environment.configure

    def forced(**configure_options: Any) -> None:
        configure_options["transaction_per_migration"] = True
        configure(**configure_options)

    environment.configure = forced  # type: ignore[method-assign,assignment]  # wrapped in place: every configure() env.py makes gets it
    return environment


def as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def step_of(scripts: ScriptDirectory, revision: str, direction: str) -> MigrationStep:
    script = scripts.get_revision(revision)
    if script is None:
        raise LookupError(f"no revision {revision!r} in {scripts.dir}")
    if direction == "up":
        return MigrationStep.upgrade_from_script(scripts.revision_map, script)
    return MigrationStep.downgrade_from_script(scripts.revision_map, script)


def _applied(scripts: ScriptDirectory, heads: tuple[str, ...]) -> set[str]:
    """Every revision a version table holding ``heads`` has applied."""
    found: set[str] = set()
    stack = list(heads)
    while stack:
        script = scripts.get_revision(stack.pop())
        if script is not None and script.revision not in found:
            found.add(script.revision)
            stack += list(as_tuple(script.down_revision)) + list(as_tuple(script.dependencies))
    return found


def _one_line(error: BaseException, where: Callable[[BaseException], str | None]) -> str:
    text = f"{type(error).__name__}: {error}".strip().splitlines()
    line = (text[0] if text else type(error).__name__)[:MAX_REASON]
    place = where(error)
    return f"{line} (at {place})" if place else line


def offline_sql(
    config: Config,
    scripts: ScriptDirectory,
    steps: list[dict[str, Any]],
    direction: str,
    where: Callable[[BaseException], str | None] = lambda error: None,
) -> dict[str, Any]:
    """The SQL of each revision, rendered offline in as few env.py runs as Alembic allows.

    ``steps`` are ``{"revision", "starting"}``: the version table's rows before
    that revision. A revision whose rendering raises is reported in
    ``unavailable`` with the reason (and ``where`` in the project it was raised), and
    rendering starts again after it.
    """
    sql: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    position = 0
    while position < len(steps):
        series = OfflineSeries(scripts, steps[position:], direction, sql)
        try:
            series.render(config)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            if series.in_flight is None:  # env.py failed outside any revision: none renders
                for entry in steps[position + series.rendered :]:
                    unavailable[entry["revision"]] = _one_line(error, where)
                break
            unavailable[series.in_flight] = _one_line(error, where)
            position += series.rendered + 1
            continue
        for entry in steps[position + series.rendered :]:
            unavailable[entry["revision"]] = "env.py did not run the migrations offline (--sql)"
        break
    return {"sql": sql, "unavailable": unavailable}


class OfflineSeries:
    """One offline env.py run over ``steps``, its output cut per revision into ``sql``."""

    def __init__(
        self,
        scripts: ScriptDirectory,
        steps: list[dict[str, Any]],
        direction: str,
        sql: dict[str, str],
    ) -> None:
        self.scripts = scripts
        self.steps = steps
        self.direction = direction
        self.sql = sql
        self.buffer = io.StringIO()
        self.rendered = 0
        self.in_flight: str | None = None

    def render(self, config: Config) -> None:
        with forced_environment(
            config,
            self.scripts,
            fn=self._steps,
            as_sql=True,
            starting_rev=self.steps[0]["starting"] or None,
            destination_rev=self.steps[-1]["revision"],
            output_buffer=self.buffer,
        ):
            self.scripts.run_env()

    def _steps(self, heads: Any, context: Any) -> Iterator[MigrationStep]:
        for entry in self.steps[self.rendered :]:
            revision = entry["revision"]
            mark = self.buffer.tell()
            self.in_flight = revision
            yield step_of(self.scripts, revision, self.direction)
            self.sql[revision] = self.buffer.getvalue()[mark:]
            self.rendered += 1
            self.in_flight = None


class Stepper:
    """The work function of one online env.py run: one revision per go-ahead."""

    def __init__(
        self, scripts: ScriptDirectory, revisions: list[str], direction: str, channel: Channel
    ) -> None:
        self.scripts = scripts
        self.revisions = revisions
        self.direction = direction
        self.channel = channel
        self.in_flight: str | None = None
        self.stopped = False
        self.done = 0
        self.rounds = 0
        self._settings: dict[str, str] = {}

    def __call__(self, heads: Any, context: Any) -> Iterator[MigrationStep]:
        """Called by ``run_migrations``; again for each version table env.py migrates."""
        self.rounds += 1
        if self.stopped:
            return
        applied = _applied(self.scripts, as_tuple(heads))
        for revision in self.revisions:
            if (revision in applied) == (self.direction == "up"):
                continue  # already where this version table needs it
            if not self._go_ahead(revision, context):
                self.stopped = True
                return
            self.in_flight = revision
            started = time.monotonic()
            yield step_of(self.scripts, revision, self.direction)
            _commit_outer_transaction(context)
            seconds = time.monotonic() - started
            self.in_flight = None
            self.done += 1
            self.channel.say({"done": {"revision": revision, "duration_s": seconds}})

    def _go_ahead(self, revision: str, context: Any) -> bool:
        connection = getattr(context, "connection", None)
        self.channel.say(
            {
                "ready": {
                    "revision": revision,
                    "round": self.rounds,
                    "backend_pid": backend_pid(connection),
                    **({} if self._settings else where_connected(connection)),
                }
            }
        )
        command = self.channel.read()
        if command is None or command.get("op") != "next":
            return False
        wanted = dict(command.get("settings") or {})
        if connection is not None and wanted and wanted != self._settings:
            apply_settings(connection, wanted)
            self._settings = wanted
        return True


def _commit_outer_transaction(context: Any) -> None:
    """An env.py that opened its own transaction (``with engine.begin()``) gets each
    revision committed too (Alembic's own per-revision transaction is, already).

    The commit is the driver's: SQLAlchemy's transaction stays open around it, so
    env.py's ``with`` block ends as it expects, and the driver starts the next
    transaction with the next statement.
    """
    connection = getattr(context, "connection", None)
    if connection is None or getattr(context, "as_sql", False):
        return
    in_transaction = getattr(connection, "in_transaction", None)
    if in_transaction is not None and in_transaction():
        connection.connection.dbapi_connection.commit()


def backend_pid(connection: Any) -> int | None:
    """The PostgreSQL backend serving env.py's connection, so the parent can watch its locks."""
    if connection is None:
        return None
    try:
        raw = connection.connection.driver_connection
    except Exception:
        return None
    info = getattr(raw, "info", None)  # psycopg 3
    if info is not None and getattr(info, "backend_pid", None):
        return int(info.backend_pid)
    for method in ("get_backend_pid", "get_server_pid"):  # psycopg2, asyncpg
        if hasattr(raw, method):
            try:
                return int(getattr(raw, method)())
            except Exception:
                return None
    return None


def where_connected(connection: Any) -> dict[str, str]:
    """The dialect and database env.py's connection is on, for the parent to check it is
    the target's (an env.py may connect to a SQLite file by default: ironic's)."""
    if connection is None:
        return {}
    dialect = str(connection.dialect.name)
    if dialect != "postgresql":
        return {"dialect": dialect}
    from sqlalchemy import text

    database = connection.execute(text("SELECT current_database()")).scalar()
    return {"dialect": dialect, "database": str(database)}


def apply_settings(connection: Any, settings: dict[str, str]) -> None:
    """Session settings (lock_timeout…) on env.py's connection, committed with the next
    revision (PostgreSQL keeps ``set_config(…, false)`` for the session)."""
    from sqlalchemy import text

    for name, value in settings.items():
        connection.execute(
            text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value}
        )
