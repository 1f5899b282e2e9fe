"""What a target is at, what is pending and the SQL it would run.

These read and never change the database: they ask the Alembic child (the
runtime side) and return the plain data of ``script.plan``. ``plan`` is the
object the rest of the bot passes around: the approval binds to it, the
pipeline runs it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from commands.errors import AlembicError, DatabaseUnavailableError
from commands.migration.runtime.runner import (
    AlembicRunner,
    AlembicSession,
    OfflineSql,
    ProjectState,
)
from commands.migration.script.plan import HistoryEntry, Plan, Status, history_entries
from commands.migration.script.revision_graph import BASE, HEAD, HEADS, Direction
from commands.targets import TargetHandle

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


def status(handle: TargetHandle, project: ProjectState | None = None) -> Status:
    """Current and head revisions, and what an upgrade to head would apply. Given
    ``project`` (a fleet's graph and version table, read once for all its members:
    ``project_state``), from one query on the version table instead of a child.
    Raises ``DatabaseUnavailableError``, ``RevisionError`` (a revision the project
    lacks), ``AlembicError``."""
    if project is None:
        with AlembicRunner.for_target(handle).session() as session:
            version = _server_version(handle)  # while the child starts: psycopg loads here
            state = session.inspect()
    else:
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


def project_state(handle: TargetHandle) -> ProjectState:
    """The project's graph and version table, through one child on ``handle``: what a
    fleet's members share (one project, one env.py). Raises ``AlembicError`` or
    ``DatabaseUnavailableError``."""
    return AlembicRunner.for_target(handle).inspect()


def member_state(handle: TargetHandle, project: ProjectState) -> tuple[ProjectState, str]:
    """``project`` as ``handle``'s database stands (its current revisions, read from its
    version table over a plain connection: milliseconds, not a child process) and the
    server's version; raises ``DatabaseUnavailableError``."""
    from commands.postgres.connections import connect, server_version

    with connect(handle.database) as conn:
        major, minor = server_version(conn)
        current = _version_table(conn, project.version_table)
    return dataclasses.replace(project, current=current), f"{major}.{minor}"


def _server_version(handle: TargetHandle) -> str:
    """``major.minor``; raises ``DatabaseUnavailableError``. psycopg is imported here, not
    with the module: ``status`` starts its Alembic child first (0.1 s of imports)."""
    from commands.postgres.connections import connect, server_version

    with connect(handle.database) as conn:
        major, minor = server_version(conn)
    return f"{major}.{minor}"


def _version_table(conn: psycopg.Connection, table: str) -> tuple[str, ...]:
    """The revisions the version table holds (none when it does not exist yet: base)."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(*table.split(".", 1))
    try:
        with conn.transaction():
            rows = conn.execute(sql.SQL("SELECT version_num FROM {}").format(name)).fetchall()
    except psycopg.errors.UndefinedTable:
        return ()
    except psycopg.Error as exc:
        raise DatabaseUnavailableError(f"{table} cannot be read: {exc}") from None
    return tuple(sorted(str(row[0]) for row in rows))


def plan(
    handle: TargetHandle,
    *,
    direction: Direction = Direction.UP,
    to: str | None = None,
    with_sql: bool = True,
    state: ProjectState | None = None,
) -> Plan:
    """The revisions an upgrade to ``to`` (default head) or a downgrade to ``to`` would run.

    Raises ``RevisionError`` for an unknown or ambiguous revision, or ``head``
    when the project has several heads.
    """
    with AlembicRunner.for_target(handle).session() as session:
        return plan_in_session(
            session, handle.name, direction=direction, to=to, with_sql=with_sql, state=state
        )


def plan_in_session(
    session: AlembicSession,
    target: str,
    *,
    direction: Direction = Direction.UP,
    to: str | None = None,
    with_sql: bool = True,
    state: ProjectState | None = None,
) -> Plan:
    """``plan`` in a session the caller holds (pre-flight asks it more afterwards)."""
    state = state or session.inspect()
    graph = state.graph
    goal = to or (HEAD if direction is Direction.UP else BASE)
    if direction is Direction.UP:
        steps = graph.upgrade_path(state.current, goal)
    else:
        steps = graph.downgrade_path(state.current, goal)
    steps = in_alembic_order(session, state, steps, direction, goal)
    preview = offline_preview(session, state, steps, direction) if with_sql else OfflineSql()
    return Plan(
        target=target,
        direction=direction,
        current=state.current,
        destination=graph.after(state.current, direction, steps),
        revisions=tuple(graph[rev] for rev in steps),
        sql=preview.sql,
        unavailable=preview.unavailable,
        version_table=state.version_table,
    )


def in_alembic_order(
    session: AlembicSession,
    state: ProjectState,
    steps: tuple[str, ...],
    direction: Direction,
    goal: str,
) -> tuple[str, ...]:
    """``steps`` in the order plain Alembic runs them: between parallel branches its walk
    decides, so the bot applies them as ``alembic upgrade``/``downgrade GOAL`` would.
    Where Alembic cannot walk there, or walks other revisions, the graph's order stays
    (said in the log)."""
    if len(steps) < 2:
        return steps
    if goal not in (HEADS, BASE) and not goal.startswith("-"):
        # `head` by id too: where a contract revision depends_on the last expand one, the
        # plan has one head and Alembic two (it would refuse "head": MultipleHeads)
        goal = state.graph.resolve(goal)
    try:
        walked = session.walk(state.current, goal, direction)
    except AlembicError as exc:
        log.warning("Alembic cannot walk to %s here (%s): the graph's order stays", goal, exc)
        return steps
    if sorted(walked) != sorted(steps):
        log.warning(
            "Alembic walks other revisions to %s (%s) than the plan (%s): the plan stays",
            goal,
            ", ".join(walked),
            ", ".join(steps),
        )
        return steps
    return walked


def offline_preview(
    session: AlembicSession, state: ProjectState, steps: Sequence[str], direction: Direction
) -> OfflineSql:
    """The offline SQL of ``steps`` from where the database stands (a preview, never a
    gate: what cannot be rendered is said, per revision)."""
    befores = [state.graph.after(state.current, direction, steps[:i]) for i in range(len(steps))]
    return session.offline_sql(list(zip(steps, befores, strict=True)), direction)


def with_sql(session: AlembicSession, plan: Plan, state: ProjectState) -> Plan:
    """``plan`` with its SQL preview, rendered now (a run renders it only when needed)."""
    if plan.sql or plan.unavailable or plan.is_empty:
        return plan
    steps = [r.id for r in plan.revisions]
    preview = offline_preview(session, state, steps, plan.direction)
    return replace(plan, sql=preview.sql, unavailable=preview.unavailable)


def history(handle: TargetHandle) -> list[HistoryEntry]:
    """Every revision, newest first, marked applied / current / head."""
    state = AlembicRunner.for_target(handle).inspect()
    return history_entries(state.graph, state.current)
