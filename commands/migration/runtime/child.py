"""Runs one Alembic operation for migrate-bot, in a child process.

This file is executed as a script by the target project's own Python
(``python child.py …``), so the project's env.py may import its
application, and so a run can be stopped by killing the process group. It
needs only the standard library and Alembic: it must not import migrate-bot.

It serves one run: requests arrive on stdin as JSON lines and each answer,
``{"ok": …}`` or ``{"error": {"type", "message", "sqlstate"}}``, is written as
a JSON line to the file descriptor ``--result-fd`` (stdout and stderr belong
to env.py and its logging). Each request loads env.py and the revision files
afresh, so every revision runs in its own env.py run and transaction, as with
``alembic upgrade``; only the Python start-up is shared.

The database URL arrives in ``$DATABASE_URL`` (never on the command line,
where ``ps`` would show it) and is also set as ``sqlalchemy.url``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import traceback
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationStep
from alembic.script import Script, ScriptDirectory


def load_config(args: argparse.Namespace) -> Config:
    """The project's Alembic config, with the URL from the environment."""
    if args.config:
        config = Config(args.config, ini_section=args.ini_section)
    else:
        config = Config()
        config.set_main_option("script_location", args.script_location)
    url = os.environ.get("DATABASE_URL")
    if url:
        # configparser interpolates %, which URL-encoded passwords contain
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


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


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def graph(scripts: ScriptDirectory) -> dict[str, Any]:
    revisions = [describe(s) for s in scripts.walk_revisions()]
    return {"revisions": revisions, "heads": list(scripts.get_heads())}


def current(config: Config, scripts: ScriptDirectory) -> list[str]:
    """The revisions recorded in the database's version table, through env.py."""
    found: list[str] = []

    def read_heads(heads: Any, context: Any) -> list[Any]:
        found.extend(_as_tuple(heads))
        return []

    with EnvironmentContext(config, scripts, fn=read_heads, dont_mutate=True):
        scripts.run_env()
    return found


def _step(scripts: ScriptDirectory, revision: str, direction: str) -> MigrationStep:
    script = scripts.get_revision(revision)
    if script is None:
        raise LookupError(f"no revision {revision!r} in {scripts.dir}")
    if direction == "up":
        return MigrationStep.upgrade_from_script(scripts.revision_map, script)
    return MigrationStep.downgrade_from_script(scripts.revision_map, script)


def offline_sql(
    config: Config, scripts: ScriptDirectory, revisions: list[str], direction: str
) -> dict[str, str]:
    """The SQL of each revision on its own, as ``alembic upgrade prev:rev --sql`` prints it."""
    sql: dict[str, str] = {}
    for revision in revisions:
        script = scripts.get_revision(revision)
        assert script is not None
        if direction == "up":
            starting = list(_as_tuple(script.down_revision)) or None
            destination: Any = revision
        else:
            starting = [revision]
            destination = list(_as_tuple(script.down_revision)) or "base"
        buffer = io.StringIO()
        step = _step(scripts, revision, direction)
        with EnvironmentContext(
            config,
            scripts,
            fn=lambda heads, context, step=step: [step],
            as_sql=True,
            starting_rev=starting,
            destination_rev=destination,
            output_buffer=buffer,
        ):
            scripts.run_env()
        sql[revision] = buffer.getvalue()
    return sql


def apply(
    config: Config, scripts: ScriptDirectory, revision: str, direction: str
) -> dict[str, Any]:
    """Apply exactly one revision, online, through the project's env.py."""
    step = _step(scripts, revision, direction)
    started = time.monotonic()
    with EnvironmentContext(config, scripts, fn=lambda heads, context: [step]):
        scripts.run_env()
    return {"revision": revision, "direction": direction, "duration_s": time.monotonic() - started}


def stamp(config: Config, scripts: ScriptDirectory, revisions: list[str]) -> dict[str, Any]:
    """Record ``revisions`` as the database's current ones without running them."""
    from alembic import command

    command.stamp(config, revisions or "base", purge=True)
    return {"stamped": revisions}


def sqlstate_of(error: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE from a psycopg / psycopg2 error wrapped by SQLAlchemy."""
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


def run(config: Config, request: dict[str, Any]) -> Any:
    """Carry out one request: ``{"op": …, "revisions": […], "direction": "up"|"down"}``."""
    scripts = ScriptDirectory.from_config(config)
    operation = request["op"]
    revisions: list[str] = request.get("revisions", [])
    direction: str = request.get("direction", "up")
    if operation == "graph":
        return graph(scripts)
    if operation == "inspect":
        return {**graph(scripts), "current": current(config, scripts)}
    if operation == "current":
        return {"current": current(config, scripts)}
    if operation == "sql":
        return {"sql": offline_sql(config, scripts, revisions, direction)}
    if operation == "apply":
        return apply(config, scripts, revisions[0], direction)
    if operation == "stamp":
        return stamp(config, scripts, revisions)
    raise ValueError(f"unknown operation {operation!r}")


def answer(config: Config, request: dict[str, Any]) -> dict[str, Any]:
    """Run a request with its extra environment (PGOPTIONS, PGAPPNAME) set around it."""
    extra: dict[str, str] = request.get("env", {})
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        return {"ok": run(config, request)}
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        return {
            "error": {
                "type": type(error).__name__,
                "message": str(error),
                "sqlstate": sqlstate_of(error),
            }
        }
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--config")
    parser.add_argument("--ini-section", default="alembic")
    parser.add_argument("--script-location")
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
    """Answer requests read from stdin, one JSON line each, until stdin closes."""
    args = parse_args(argv)
    if args.parent_pid:
        die_with_parent(args.parent_pid)
    config = load_config(args)
    with os.fdopen(args.result_fd, "w", encoding="utf-8") as results:
        for line in sys.stdin:
            if line.strip():
                results.write(json.dumps(answer(config, json.loads(line))) + "\n")
                results.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
