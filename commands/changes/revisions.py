"""Whether a migrate phase's revision is applied on a target, without an Alembic child
each time a change is refreshed.

The project's revision graph comes from the child once per target and is kept;
the database's heads are read from its version table with plain SQL at every
look. A head the kept graph does not know (a newer checkout applied it) makes
the graph be read again.
"""

from __future__ import annotations

import threading

import psycopg
from psycopg import sql

from commands.migration.runtime.runner import AlembicRunner, ProjectState
from commands.postgres.connections import connect
from commands.targets import TargetHandle


class AppliedRevisions:
    """Graphs kept per target; heads read live."""

    def __init__(self) -> None:
        self._states: dict[str, ProjectState] = {}
        self._lock = threading.Lock()

    def inspect(self, handle: TargetHandle) -> ProjectState:
        """The project as the child reads it now (and kept for the next looks)."""
        state = AlembicRunner.for_target(handle).inspect()
        with self._lock:
            self._states[handle.name] = state
        return state

    def applied(self, handle: TargetHandle, revision: str) -> bool:
        """Whether ``revision`` is among what the database holds now."""
        with self._lock:
            state = self._states.get(handle.name)
        if state is None:
            state = self.inspect(handle)
        heads = version_rows(handle, state.version_table)
        if any(head not in state.graph.revisions for head in heads):
            state = self.inspect(handle)
        return revision in state.graph.applied(heads)


def version_rows(handle: TargetHandle, version_table: str) -> tuple[str, ...]:
    """The revisions the version table lists (none: the table is absent, the database at
    base)."""
    name = sql.SQL(".").join(sql.Identifier(part) for part in version_table.split("."))
    with connect(handle.database) as conn:
        found = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (name.as_string(conn),)
        ).fetchone()
        if not (found and found[0]):
            return ()
        try:
            rows = conn.execute(sql.SQL("SELECT version_num FROM {}").format(name)).fetchall()
        except psycopg.Error:
            return ()
    return tuple(str(row[0]) for row in rows)
