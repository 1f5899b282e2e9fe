"""Runs Alembic for migrate-bot, in a child process.

This file is executed as a script by the target project's own Python
(``python child.py …``), so the project's env.py may import its
application, and so a run can be stopped by killing the process group. It
needs only the standard library and Alembic: it must not import migrate-bot.

Requests arrive on stdin as JSON lines; everything the child says goes as
JSON lines to the file descriptor ``--result-fd`` (stdout and stderr belong
to env.py and its logging). A request ends with ``{"ok": …}`` or
``{"error": {"type", "message", "sqlstate", "revision"}}``.

``migrate`` runs env.py once for a whole series of revisions and steps it:
the work function handed to Alembic is a generator, and Alembic asks it for
the next ``MigrationStep`` only once the previous one is committed. Before
each revision the child says ``{"ready": …}`` and waits for ``next`` (with
the session settings to use) or ``stop``; after it, ``{"done": …}`` with its
duration. Every configure() is given ``transaction_per_migration=True``, so
each revision commits on its own whatever env.py asks: progress and the
failure point stay exact. ``sql`` renders the offline SQL of a series the
same way, one offline env.py run split per revision; a revision that cannot
be rendered offline is reported as such and rendering goes on after it.

The database URL arrives in ``$DATABASE_URL`` (never on the command line,
where ``ps`` would show it) and is also set as ``sqlalchemy.url``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import IO, Any

if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # our neighbours must never shadow the project's own modules

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationStep
from alembic.script import Script, ScriptDirectory

URL_NAMES_ENV = "MIGRATE_BOT_URL_NAMES"  # further variables holding the URL (url_env_names)
MAX_REASON = 300


class Channel:
    """The parent's requests in, our answers and step events out."""

    def __init__(self, requests: IO[str], results: IO[str]) -> None:
        self._requests = requests
        self._results = results

    def read(self) -> dict[str, Any] | None:
        for line in self._requests:
            if line.strip():
                return dict(json.loads(line))
        return None

    def say(self, message: dict[str, Any]) -> None:
        self._results.write(json.dumps(message) + "\n")
        self._results.flush()


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

    environment.configure = forced  # type: ignore[method-assign]
    return environment


def choose_driver(url: str) -> str:
    """The URL in the form this interpreter can use: ``postgresql://`` when psycopg2 (what
    SQLAlchemy takes for a plain ``postgresql://``, and what applications most often
    expect) is installed, else ``postgresql+psycopg://`` for psycopg 3."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql+psycopg", "postgresql+psycopg2", "postgresql"):
        return url
    if importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql://{rest}"
    if importlib.util.find_spec("psycopg") is not None:
        return f"postgresql+psycopg://{rest}"
    return url


def load_config(args: argparse.Namespace) -> Config:
    """The project's Alembic config, with the URL and ``-x`` arguments of the target."""
    if args.config:
        config = Config(args.config, ini_section=args.ini_section)
    else:
        config = Config(ini_section=args.ini_section)
    if args.script_location:  # Flask-Migrate's alembic.ini has none: the target names it
        config.set_main_option("script_location", args.script_location)
    url = os.environ.get("DATABASE_URL")
    if url:
        url = choose_driver(url)
        for name in ["DATABASE_URL", *filter(None, os.environ.get(URL_NAMES_ENV, "").split(","))]:
            os.environ[name] = url
        # configparser interpolates %, which URL-encoded passwords contain
        for option in ("sqlalchemy.url", *args.url_option):
            config.set_main_option(option, url.replace("%", "%%"))
    os.environ.pop(URL_NAMES_ENV, None)
    config.cmd_opts = argparse.Namespace(
        config=args.config,
        name=args.ini_section,
        x=args.x or None,
        raiseerr=False,
        quiet=False,
        cmd=None,
        sql=False,
        tag=None,
    )
    return config


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def describe(script: Script) -> dict[str, Any]:
    """What the parent needs to know of one revision file."""
    return {
        "revision": script.revision,
        "down_revisions": list(_as_tuple(script.down_revision)),
        "dependencies": list(_as_tuple(script.dependencies)),
        "branch_labels": sorted(script.branch_labels or ()),
        "message": (script.doc or "").strip(),
        "path": os.path.abspath(script.path),
    }


def graph(scripts: ScriptDirectory) -> dict[str, Any]:
    revisions = [describe(s) for s in scripts.walk_revisions()]
    return {"revisions": revisions, "heads": list(scripts.get_heads())}


def current(config: Config, scripts: ScriptDirectory) -> dict[str, Any]:
    """What the database's version table holds, read through env.py, and where that table is."""
    found: list[str] = []
    table: dict[str, Any] = {}

    def read_heads(heads: Any, context: Any) -> list[Any]:
        found.extend(h for h in _as_tuple(heads) if h not in found)
        table.setdefault("name", context.version_table)
        table.setdefault("schema", context.version_table_schema)
        return []

    with EnvironmentContext(config, scripts, fn=read_heads, dont_mutate=True):
        scripts.run_env()
    return {"current": found, "version_table": table or None}


def _step(scripts: ScriptDirectory, revision: str, direction: str) -> MigrationStep:
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
            stack += list(_as_tuple(script.down_revision)) + list(_as_tuple(script.dependencies))
    return found


def _one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip().splitlines()
    return (text[0] if text else type(error).__name__)[:MAX_REASON]


def offline_sql(
    config: Config, scripts: ScriptDirectory, steps: list[dict[str, Any]], direction: str
) -> dict[str, Any]:
    """The SQL of each revision, rendered offline in as few env.py runs as Alembic allows.

    ``steps`` are ``{"revision", "starting"}``: the version table's rows before
    that revision. A revision whose rendering raises is reported in
    ``unavailable`` with the reason, and rendering starts again after it.
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
                    unavailable[entry["revision"]] = _one_line(error)
                break
            unavailable[series.in_flight] = _one_line(error)
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
            yield _step(self.scripts, revision, self.direction)
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
        applied = _applied(self.scripts, _as_tuple(heads))
        for revision in self.revisions:
            if (revision in applied) == (self.direction == "up"):
                continue  # already where this version table needs it
            if not self._go_ahead(revision, context):
                self.stopped = True
                return
            self.in_flight = revision
            started = time.monotonic()
            yield _step(self.scripts, revision, self.direction)
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


def apply_settings(connection: Any, settings: dict[str, str]) -> None:
    """Session settings (lock_timeout…) on env.py's connection, committed with the next
    revision (PostgreSQL keeps ``set_config(…, false)`` for the session)."""
    from sqlalchemy import text

    for name, value in settings.items():
        connection.execute(
            text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value}
        )


def migrate(
    config: Config, scripts: ScriptDirectory, request: dict[str, Any], channel: Channel
) -> dict[str, Any]:
    """One online env.py run over ``revisions``, stepped by the parent."""
    stepper = Stepper(scripts, list(request["revisions"]), request["direction"], channel)
    try:
        with forced_environment(config, scripts, fn=stepper):
            scripts.run_env()
    except Exception as error:
        with contextlib.suppress(Exception):  # the parent names the revision in flight
            error.revision = stepper.in_flight  # type: ignore[attr-defined]
        raise
    return {"applied": stepper.done, "rounds": stepper.rounds, "stopped": stepper.stopped}


def stamp(config: Config, revisions: list[str]) -> dict[str, Any]:
    """Record ``revisions`` as the database's current ones without running them."""
    from alembic import command

    command.stamp(config, revisions or "base", purge=True)
    return {"stamped": revisions}


def sqlstate_of(error: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE from a psycopg / psycopg2 / asyncpg error wrapped by SQLAlchemy."""
    seen: set[int] = set()
    current_error: BaseException | None = error
    while current_error is not None and id(current_error) not in seen:
        seen.add(id(current_error))
        for attribute in ("sqlstate", "pgcode"):
            code = getattr(current_error, attribute, None)
            if isinstance(code, str) and code:
                return code
        current_error = getattr(current_error, "orig", None) or current_error.__cause__
    return None


Handler = Callable[[Config, ScriptDirectory, dict[str, Any], Channel], Any]
HANDLERS: dict[str, Handler] = {
    "graph": lambda config, scripts, request, channel: graph(scripts),
    "inspect": lambda config, scripts, request, channel: {
        **graph(scripts),
        **current(config, scripts),
    },
    "current": lambda config, scripts, request, channel: current(config, scripts),
    "sql": lambda config, scripts, request, channel: offline_sql(
        config, scripts, request["steps"], request["direction"]
    ),
    "migrate": migrate,
    "stamp": lambda config, scripts, request, channel: stamp(config, request["revisions"]),
}


def answer(
    config: Config, scripts: ScriptDirectory, request: dict[str, Any], channel: Channel
) -> dict[str, Any]:
    """Carry out one request with its extra environment (PGOPTIONS, PGAPPNAME) set around it."""
    extra: dict[str, str] = request.get("env", {})
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        handler = HANDLERS.get(request.get("op", ""))
        if handler is None:
            raise ValueError(f"unknown operation {request.get('op')!r}")
        return {"ok": handler(config, scripts, request, channel)}
    except Exception as error:
        return failure(error)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def failure(error: BaseException) -> dict[str, Any]:
    """An error answer (its traceback goes to stderr, the parent's log)."""
    traceback.print_exc(file=sys.stderr)
    return {
        "error": {
            "type": type(error).__name__,
            "message": str(error),
            "sqlstate": sqlstate_of(error),
            "revision": getattr(error, "revision", None),
        }
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--config")
    parser.add_argument("--ini-section", default="alembic")
    parser.add_argument("--script-location")
    parser.add_argument("-x", action="append", default=[])
    parser.add_argument("--url-option", action="append", default=[])
    parser.add_argument("--flask-app")
    return parser.parse_args(argv)


def die_with_parent(parent_pid: int) -> None:
    """Be killed when migrate-bot dies, so no revision runs on with nobody watching.

    Linux's PR_SET_PDEATHSIG; if the parent is already gone, exit at once.
    Killed mid-revision, the connection drops and PostgreSQL rolls it back.
    """
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:
        sys.exit(1)


def enter_app_context(spec: str) -> None:
    """Push the Flask app's context for the whole session, as ``flask db`` does for
    Flask-Migrate's env.py (``current_app``). ``module:name`` is an app or a factory,
    imported from the working directory as ``flask`` imports it."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module, _, name = spec.partition(":")
    found = getattr(importlib.import_module(module), name or "app")
    app = found if hasattr(found, "app_context") else found()
    app.app_context().push()


def main(argv: list[str]) -> int:
    """Answer requests read from stdin until stdin closes."""
    args = parse_args(argv)
    if args.parent_pid:
        die_with_parent(args.parent_pid)
    config = load_config(args)
    if args.flask_app:
        enter_app_context(args.flask_app)
    with os.fdopen(args.result_fd, "w", encoding="utf-8") as results:
        channel = Channel(sys.stdin, results)
        scripts: ScriptDirectory | None = None
        while (request := channel.read()) is not None:
            try:  # read once per session: the revision files are pinned for a run
                scripts = scripts or ScriptDirectory.from_config(config)
            except Exception as error:
                channel.say(failure(error))
                continue
            channel.say(answer(config, scripts, request, channel))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
