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
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import IO, Any

if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # our neighbours must never shadow the project's own modules

import sqlalchemy

if tuple(int(part) for part in sqlalchemy.__version__.split(".")[:2]) < (1, 4):
    sys.exit(  # said plainly, not as an ImportError in our own line (Redash pins 1.3)
        f"migrate-bot runs Alembic with SQLAlchemy 1.4 or later; the project's interpreter"
        f" ({sys.executable}) has SQLAlchemy {sqlalchemy.__version__}"
    )

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import make_url


def _load(name: str, path: str) -> Any:
    """A helper module of ours, loaded from its path under a name no project uses."""
    spec = importlib.util.spec_from_file_location(f"_migrate_bot_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_HERE = os.path.dirname(os.path.abspath(__file__))
steps = _load("child_steps", os.path.join(_HERE, "child_steps.py"))
errors = _load("child_errors", os.path.join(_HERE, "child_errors.py"))
drivers = _load("drivers", os.path.join(_HERE, os.pardir, os.pardir, "postgres", "drivers.py"))
models = _load("child_models", os.path.join(_HERE, "child_models.py"))
flask_context = _load("child_flask", os.path.join(_HERE, "child_flask.py"))

PRINTED = errors.PrintedTail(sys.stdout)  # what env.py prints, for an exit's reason
URL_NAMES_ENV = "MIGRATE_BOT_URL_NAMES"  # further variables holding the URL (url_env_names)


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


class HandedUrl:
    """The URL env.py gets, with the driver it names and why (said to the parent)."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.driver: str | None = None
        self.reason = "no URL"
        self.installed: list[str] = []

    def describe(self) -> dict[str, Any]:
        shown = make_url(self.url).render_as_string(hide_password=True) if self.url else None
        return {"url": shown, "driver": self.driver, "reason": self.reason}


HANDED = HandedUrl()


def with_driver(url: str, env_py: str | None) -> str:
    """``url`` naming a driver: the one it names, else one this interpreter has (its
    options rewritten in that driver's words)."""
    found = drivers.detect(env_py)
    HANDED.installed = list(found["installed"])
    written = drivers.scheme_driver(url)
    if written is not None:
        HANDED.driver, HANDED.reason = written, "named by the URL or the target's driver key"
        return url
    HANDED.driver, HANDED.reason = found["driver"], found["reason"]
    if HANDED.driver is None:
        return url
    parsed = make_url(url)
    query = drivers.convert_query(dict(parsed.query), None, HANDED.driver)
    named = parsed.set(drivername=f"postgresql+{HANDED.driver}", query=query)
    return named.render_as_string(hide_password=False)


def load_config(args: argparse.Namespace) -> Config:
    """The project's Alembic config, with its script location and ``-x`` arguments."""
    if args.config:
        config = Config(args.config, ini_section=args.ini_section)
    else:
        config = Config(ini_section=args.ini_section)
    if args.script_location:  # Flask-Migrate's alembic.ini has none: the target names it
        config.set_main_option("script_location", args.script_location)
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


def hand_url(config: Config, args: argparse.Namespace, env_py: str | None) -> None:
    """The target's URL where env.py reads it: ``$DATABASE_URL``, the ``url_env_names``
    and the ini options of ``url_ini_options`` (``sqlalchemy.url`` by default; when it
    is not listed, it is left unset, whatever alembic.ini says)."""
    url = os.environ.get("DATABASE_URL")
    names = [n for n in os.environ.pop(URL_NAMES_ENV, "").split(",") if n]
    if not url:
        return
    url = with_driver(url, env_py)
    HANDED.url = url
    for name in ["DATABASE_URL", *names]:
        os.environ[name] = url
    options = [o for o in args.url_options.split(",") if o]
    if "sqlalchemy.url" not in options and config.file_config.has_section(args.ini_section):
        config.file_config.remove_option(args.ini_section, "sqlalchemy.url")
    for option in options:  # configparser interpolates %, which URL-encoded passwords contain
        config.set_main_option(option, url.replace("%", "%%"))


def describe(script: Script) -> dict[str, Any]:
    """What the parent needs to know of one revision file."""
    return {
        "revision": script.revision,
        "down_revisions": list(steps.as_tuple(script.down_revision)),
        "dependencies": list(steps.as_tuple(script.dependencies)),
        "branch_labels": sorted(script.branch_labels or ()),
        "message": " ".join((script.doc or "").split()),  # one line: its first paragraph
        "path": os.path.abspath(script.path),
    }


def graph(scripts: ScriptDirectory) -> dict[str, Any]:
    """Every revision, in the order Alembic applies them from base (its walk from the
    heads, reversed): the parent keeps that order between parallel branches."""
    revisions = [describe(s) for s in reversed(list(scripts.walk_revisions()))]
    return {
        "revisions": revisions,
        "heads": list(scripts.get_heads()),
        "script_dir": os.path.abspath(scripts.dir),
    }


def walk(scripts: ScriptDirectory, request: dict[str, Any]) -> list[str]:
    """The order plain Alembic runs the steps from the version rows ``current`` to
    ``goal`` in: its own walk (``alembic upgrade``/``downgrade GOAL`` make the same
    call), which finishes one branch before it starts the other."""
    current, goal = tuple(request["current"]), request["goal"]
    if request["direction"] == "up":
        found = scripts.iterate_revisions(goal, current, implicit_base=True)
        return [script.revision for script in reversed(list(found))]
    found = scripts.iterate_revisions(current, goal, select_for_downgrade=True)
    return [script.revision for script in found]


def current(config: Config, scripts: ScriptDirectory) -> dict[str, Any]:
    """What the database's version table holds, read through env.py, and where that table is."""
    found: list[str] = []
    table: dict[str, Any] = {}
    connected: dict[str, str] = {}

    def read_heads(heads: Any, context: Any) -> list[Any]:
        found.extend(h for h in steps.as_tuple(heads) if h not in found)
        table.setdefault("name", context.version_table)
        table.setdefault("schema", context.version_table_schema)
        if not connected:
            connected.update(steps.where_connected(getattr(context, "connection", None)))
        return []

    with EnvironmentContext(config, scripts, fn=read_heads, dont_mutate=True):
        scripts.run_env()
    return {"current": found, "version_table": table or None, "connected": connected or None}


def migrate(
    config: Config, scripts: ScriptDirectory, request: dict[str, Any], channel: Channel
) -> dict[str, Any]:
    """One online env.py run over ``revisions``, stepped by the parent."""
    stepper = steps.Stepper(scripts, list(request["revisions"]), request["direction"], channel)
    try:
        with steps.forced_environment(config, scripts, fn=stepper):
            scripts.run_env()
    except (Exception, SystemExit) as error:
        with contextlib.suppress(Exception):  # the parent names the revision in flight
            # any exception env.py raised, of any class, takes the revision in flight to the
            # parent: mypy cannot know such attributes of a class it has not seen
            error.revision = stepper.in_flight  # type: ignore[union-attr]
            error.step = migration_step(stepper, request)  # type: ignore[union-attr]
        raise
    return {"applied": stepper.done, "rounds": stepper.rounds, "stopped": stepper.stopped}


def migration_step(stepper: Any, request: dict[str, Any]) -> str:
    """Which part of a migration env.py was in: a revision, or before or after them."""
    if stepper.in_flight is not None:
        verb = "running" if request["direction"] == "up" else "undoing"
        return f"{verb} revision {stepper.in_flight}"
    if stepper.done == 0:
        return "starting the migration (env.py, before its first revision)"
    return "ending the migration (env.py, after its last revision)"


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Tag what fails inside with the step it failed in (unless a closer one tagged it)."""
    try:
        yield
    except (Exception, SystemExit) as error:  # env.py's sys.exit() too: its step is known
        if getattr(error, "step", None) is None:
            with contextlib.suppress(Exception):
                error.step = name  # type: ignore[union-attr]  # any exception class: tagged
        raise


def inspect(config: Config, scripts: ScriptDirectory) -> dict[str, Any]:
    """The graph, the version table and the URL env.py gets, in one answer."""
    with step(READING_HISTORY):
        found = graph(scripts)
    with step(READING_VERSIONS):
        found.update(current(config, scripts))
    return {**found, "handed": HANDED.describe()}


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


READING_HISTORY = "reading the history"
READING_VERSIONS = "reading the version table through env.py"
Handler = Callable[[Config, ScriptDirectory, dict[str, Any], Channel], Any]
HANDLERS: dict[str, tuple[str, Handler]] = {
    "graph": (READING_HISTORY, lambda config, scripts, request, channel: graph(scripts)),
    "inspect": (READING_VERSIONS, lambda config, scripts, req, channel: inspect(config, scripts)),
    "current": (READING_VERSIONS, lambda config, scripts, req, channel: current(config, scripts)),
    "walk": (READING_HISTORY, lambda config, scripts, request, channel: walk(scripts, request)),
    "sql": (
        "rendering SQL",
        lambda config, scripts, request, channel: steps.offline_sql(
            config,
            scripts,
            request["steps"],
            request["direction"],
            lambda error: errors.project_frame(error, script_dir(scripts), os.getcwd() + os.sep),
        ),
    ),
    "migrate": ("running env.py", migrate),
    "stamp": (
        "stamping the version table",
        lambda config, scripts, request, channel: stamp(config, request["revisions"]),
    ),
    "models": (
        "comparing the models with the database",
        lambda config, scripts, request, channel: models.compare_models(config, scripts),
    ),
}


def answer(
    config: Config, scripts: ScriptDirectory, request: dict[str, Any], channel: Channel
) -> dict[str, Any]:
    """Carry out one request with its extra environment (PGOPTIONS, PGAPPNAME) set around it."""
    PRINTED.reset()
    extra: dict[str, str] = request.get("env", {})
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        name, handler = HANDLERS.get(request.get("op", ""), ("", None))
        if handler is None:
            raise ValueError(f"unknown operation {request.get('op')!r}")
        with step(request.get("step") or name):
            return {"ok": handler(config, scripts, request, channel)}
    except (Exception, SystemExit) as error:  # env.py may sys.exit(): said where, not EOF
        return failure(error, scripts)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def script_dir(scripts: ScriptDirectory) -> str:
    return os.path.abspath(scripts.dir) + os.sep


def failure(error: BaseException, scripts: ScriptDirectory | None) -> dict[str, Any]:
    """An error answer: what failed, in which step, at which line of the project's own code,
    what to do where that is known, and the traceback (for the parent's log)."""
    traceback.print_exc(file=sys.stderr)
    described = errors.describe(
        error,
        step=getattr(error, "step", None) or READING_HISTORY,
        script_dir=script_dir(scripts) if scripts else None,
        hint_of=lambda e: errors.hint(e, HANDED.driver, HANDED.installed),
        printed=PRINTED.last_line(),
    )
    described.update(sqlstate=sqlstate_of(error), revision=getattr(error, "revision", None))
    return {"error": described}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--config")
    parser.add_argument("--ini-section", default="alembic")
    parser.add_argument("--script-location")
    parser.add_argument("-x", action="append", default=[])
    parser.add_argument("--url-options", default="sqlalchemy.url")  # comma-separated
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


def main(argv: list[str]) -> int:
    """Answer requests read from stdin until stdin closes."""
    args = parse_args(argv)
    sys.stdout = PRINTED  # passed through, its last line kept
    if args.parent_pid:
        die_with_parent(args.parent_pid)
    config = load_config(args)
    scripts: ScriptDirectory | None = None
    broken: BaseException | None = None
    try:  # read once per session: the revision files are pinned for a run
        scripts = ScriptDirectory.from_config(config)
    except Exception as error:
        broken = error
    try:
        hand_url(config, args, scripts.env_py_location if scripts else None)
    except drivers.UnsupportedOption as error:  # a bare URL's option the driver lacks
        error.step = f"handing env.py the URL for {HANDED.driver}"
        broken = broken or error
    if args.flask_app and broken is None:
        try:  # the application's own factory: its errors are the project's, said where
            flask_context.enter_app_context(args.flask_app)
        except (Exception, SystemExit) as error:  # a factory may exit, Flask-Migrate's way
            error.step = f"creating the Flask app {args.flask_app}"  # type: ignore[union-attr]
            broken = error
    with os.fdopen(args.result_fd, "w", encoding="utf-8") as results:
        channel = Channel(sys.stdin, results)
        while (request := channel.read()) is not None:
            if scripts is None or broken is not None:
                channel.say(failure(broken or RuntimeError("no script directory"), scripts))
                continue
            channel.say(answer(config, scripts, request, channel))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
