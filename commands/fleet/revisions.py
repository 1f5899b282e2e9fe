"""Where each member of a fleet stands, read cheaply: one Alembic child for the project,
one query per member.

A fleet's members share one project and one env.py, so the revision graph and
the version table's name come from one child (``project_state``); each
member's revisions are then read from its version table over a plain
connection, a few milliseconds each instead of a child process each. A
member's plan depends only on where it starts and where it goes, so members
at the same revision share one plan (and its SQL preview).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from commands.errors import DatabaseUnavailableError
from commands.migration.runtime.runner import AlembicRunner, ProjectState
from commands.migration.script.plan import Status
from commands.postgres.connections import connect, server_version
from commands.targets import TargetHandle


def project_state(handle: TargetHandle) -> ProjectState:
    """The project's graph and version table, through one child on ``handle``; raises
    ``AlembicError`` or ``DatabaseUnavailableError``."""
    return AlembicRunner.for_target(handle).inspect()


def member_state(handle: TargetHandle, project: ProjectState) -> tuple[ProjectState, str]:
    """``project`` as ``handle``'s database stands (its current revisions) and the
    server's version; raises ``DatabaseUnavailableError``."""
    with connect(handle.database) as conn:
        major, minor = server_version(conn)
        current = _version_table(conn, project.version_table)
    return ProjectState(project.graph, current, project.version_table), f"{major}.{minor}"


def member_status(handle: TargetHandle, project: ProjectState) -> Status:
    """A member's status as ``migrate-bot status`` gives it, from one query; raises
    ``DatabaseUnavailableError``, ``RevisionError`` (a revision the project lacks)."""
    state, version = member_state(handle, project)
    graph = state.graph
    graph.check_current(state.current)
    heads = graph.heads
    pending = graph.sorted(graph.applied(heads) - graph.applied(state.current))
    return Status(
        target=handle.name,
        database=handle.database.display(),
        server_version=version,
        current=state.current,
        heads=heads,
        pending=tuple(graph[rev] for rev in pending),
    )


def _version_table(conn: psycopg.Connection, table: str) -> tuple[str, ...]:
    """The revisions the version table holds (none when it does not exist yet: base)."""
    name = sql.Identifier(*table.split(".", 1))
    try:
        with conn.transaction():
            rows = conn.execute(sql.SQL("SELECT version_num FROM {}").format(name)).fetchall()
    except psycopg.errors.UndefinedTable:
        return ()
    except psycopg.Error as exc:
        raise DatabaseUnavailableError(f"{table} cannot be read: {exc}") from None
    return tuple(sorted(str(row[0]) for row in rows))
