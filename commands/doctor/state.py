"""Where the bot keeps its state (the audit log): a SQLite file it can write, or the
shared PostgreSQL database it can reach and create its schema in. Nothing is created:
a state file that does not exist yet is created by the bot's first start."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path

from commands.doctor.finding import Finding, fail, ok
from commands.errors import ConfigError, DatabaseUnavailableError
from commands.postgres.connections import connect
from commands.state.location import StateLocation
from commands.state.schema import SCHEMA
from commands.state.shared import state_url

CHECK = "state"


def check_state(location: StateLocation, environ: Mapping[str, str] = os.environ) -> Finding:
    if location.shared:
        return _shared(location, environ)
    return _sqlite(location.path)


def _sqlite(path: Path) -> Finding:
    fix = f"make {path.parent} writable by the bot's user, or set [bot] state_path"
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".doctor-"):
                pass
        except OSError as exc:
            return fail(CHECK, f"SQLite at {path}: cannot write in {path.parent}: {exc}", fix)
        return ok(CHECK, f"SQLite at {path}: not there yet, created at the first start")
    try:
        with sqlite3.connect(path, timeout=5) as db:
            db.execute("BEGIN IMMEDIATE")  # the write lock every append takes
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'events'")
            has_events = tables.fetchone()[0] == 1
            events = db.execute("SELECT count(*) FROM events").fetchone()[0] if has_events else 0
            db.rollback()
    except sqlite3.Error as exc:
        return fail(CHECK, f"SQLite at {path}: {exc}", fix)
    return ok(CHECK, f"SQLite at {path}: writable, {events:,} audit event(s)")


def _shared(location: StateLocation, environ: Mapping[str, str]) -> Finding:
    try:
        url = state_url(location, environ)
        with connect(url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT current_user, has_database_privilege(current_database(), 'CREATE'),"
                " EXISTS (SELECT FROM pg_namespace WHERE nspname = %s)",
                (SCHEMA,),
            ).fetchone()
    except ConfigError as exc:
        variable = location.url_env
        return fail(CHECK, str(exc), f"set {variable} to the state database's postgresql:// URL")
    except DatabaseUnavailableError as exc:
        return fail(CHECK, str(exc), "check the state URL and that this machine may connect")
    assert row is not None
    role, can_create, present = row
    where = f"PostgreSQL at {url.display()} as {role}"
    if present:
        return ok(CHECK, f"{where}: schema {SCHEMA} is there")
    if not can_create:
        return fail(
            CHECK,
            f"{where}: schema {SCHEMA} is not there and {role} may not create it",
            f"GRANT CREATE ON DATABASE {url.database} TO {role} (once: the bot creates its"
            " schema at its first start)",
        )
    return ok(CHECK, f"{where}: schema {SCHEMA} is created at the first start")
