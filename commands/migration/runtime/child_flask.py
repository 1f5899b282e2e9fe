"""The Flask app around a Flask-Migrate env.py, as ``flask db`` builds it, in the Alembic child.

Loaded by ``child.py`` from its path (the project's interpreter: Alembic, the
SQLAlchemy it runs on, and the standard library). Some applications migrate the
database from their own factory every time it runs (ihatemoney's ``create_app``
calls Flask-Migrate's ``upgrade``; CTFd's does the same): built for a plan, such a
factory would apply
every pending revision before any plan, lock, approval or backup, with nobody
told. While the factory runs, Alembic's ``run_migrations`` refuses, so the
factory fails before its first revision and the user reads why. Others write
through their ORM when they are built (Superset's makes Flask-AppBuilder's tables
with ``create_all`` and seeds rows): while the factory runs, every SQLAlchemy
engine refuses a statement that is not a read, for the same reason.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import event
from sqlalchemy.engine import Engine

# what a statement may start with and still only read (a transaction's own statements too)
_READS = frozenset(
    {
        "SELECT",
        "SHOW",
        "WITH",
        "VALUES",
        "EXPLAIN",
        "SET",
        "RESET",
        "BEGIN",
        "START",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "END",
    }
)


class FactoryMigrates(RuntimeError):
    """The Flask app's factory ran Alembic's migrations itself while it was created."""


class FactoryWrites(RuntimeError):
    """The Flask app's factory wrote to the database while it was created."""


class _Refusal:
    """While the factory runs, Alembic's ``run_migrations`` raises, and so does any write
    through a SQLAlchemy engine; the error is kept, since the factory may swallow it
    (Flask-Migrate's commands log a ``RuntimeError`` and exit)."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.error: RuntimeError | None = None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        original = EnvironmentContext.run_migrations

        def refuse(context: EnvironmentContext, **kw: Any) -> None:
            self.error = FactoryMigrates(
                f"the Flask app {self.spec} runs Alembic's migrations itself when it is"
                " created: they would be applied before any plan, lock or backup. Set"
                " flask_app to a factory that does not migrate the database"
            )
            raise self.error

        def refuse_writes(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            words = statement.lstrip(" \t\n(").split(None, 2)
            if words and words[0].upper() not in _READS:
                shown = " ".join(words[:2])
                self.error = FactoryWrites(
                    f"the Flask app {self.spec} writes to the database when it is created"
                    f" ({shown} …): that would happen before any plan, lock or backup. Set"
                    " flask_app to a factory that builds the app without writing"
                )
                raise self.error

        EnvironmentContext.run_migrations = refuse  # type: ignore[assignment]
        event.listen(Engine, "before_cursor_execute", refuse_writes)
        try:
            yield
        finally:
            event.remove(Engine, "before_cursor_execute", refuse_writes)
            EnvironmentContext.run_migrations = original  # type: ignore[method-assign]


def enter_app_context(spec: str) -> None:
    """Push the Flask app's context for the whole session, as ``flask db`` does for
    Flask-Migrate's env.py (``current_app``). ``module:name`` is an app or a factory,
    imported from the working directory as ``flask`` imports it."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module, _, name = spec.partition(":")
    refusal = _Refusal(spec)
    try:
        with refusal.active():
            found = getattr(importlib.import_module(module), name or "app")
            app = found if hasattr(found, "app_context") else found()
    except BaseException:  # SystemExit too: the refusal is the cause, whatever came of it
        if refusal.error is not None:
            raise refusal.error from None
        raise
    if refusal.error is not None:  # caught and ignored by the factory
        raise refusal.error
    app.app_context().push()
