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
from collections.abc import Callable
from typing import IO, Any

if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # our neighbours must never shadow the project's own modules

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory


def _load_sibling(name: str) -> Any:
    """``child_<name>.py``, loaded from its path under a name no project uses."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"child_{name}.py")
    spec = importlib.util.spec_from_file_location(f"_migrate_bot_child_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


steps = _load_sibling("steps")
models = _load_sibling("models")

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


def describe(script: Script) -> dict[str, Any]:
    """What the parent needs to know of one revision file."""
    return {
        "revision": script.revision,
        "down_revisions": list(steps.as_tuple(script.down_revision)),
        "dependencies": list(steps.as_tuple(script.dependencies)),
        "branch_labels": sorted(script.branch_labels or ()),
        "message": (script.doc or "").strip(),
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

    def read_heads(heads: Any, context: Any) -> list[Any]:
        found.extend(h for h in steps.as_tuple(heads) if h not in found)
        table.setdefault("name", context.version_table)
        table.setdefault("schema", context.version_table_schema)
        return []

    with EnvironmentContext(config, scripts, fn=read_heads, dont_mutate=True):
        scripts.run_env()
    return {"current": found, "version_table": table or None}


def migrate(
    config: Config, scripts: ScriptDirectory, request: dict[str, Any], channel: Channel
) -> dict[str, Any]:
    """One online env.py run over ``revisions``, stepped by the parent."""
    stepper = steps.Stepper(scripts, list(request["revisions"]), request["direction"], channel)
    try:
        with steps.forced_environment(config, scripts, fn=stepper):
            scripts.run_env()
    except Exception as error:
        with contextlib.suppress(Exception):  # the parent names the revision in flight
            # any exception env.py raised takes the revision in flight to the parent
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
    "walk": lambda config, scripts, request, channel: walk(scripts, request),
    "sql": lambda config, scripts, request, channel: steps.offline_sql(
        config, scripts, request["steps"], request["direction"]
    ),
    "migrate": migrate,
    "models": lambda config, scripts, request, channel: models.compare_models(config, scripts),
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
