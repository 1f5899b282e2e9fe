"""Put the demo target back where a first visit starts: its first revision, with rows.

The sandbox does this at each start so that ``/migrate upgrade demo`` always
has real work to do (every later revision pending, on tables that hold data,
so sizes and the backfill are real). The database is dropped and created
again rather than downgraded: a run stopped half-way leaves a state no
downgrade script expects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from psycopg import sql

from commands.demo.data import fill_demo_data
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.revision_graph import Direction
from commands.postgres.connections import connect
from commands.postgres.statement_stats import start_statement_stats
from commands.targets import TargetHandle

MAINTENANCE_DATABASE = "postgres"


@dataclass(frozen=True)
class DemoReset:
    """What the reset left: the revision the database is at, the rows added, how long."""

    revision: str
    pending: int
    rows: dict[str, int]
    seconds: float


def reset_demo_database(handle: TargetHandle, *, rows: int) -> DemoReset:
    """Recreate the target's database, apply its first revision, add ``rows`` segments,
    and start ``pg_stat_statements``' counts from there (when the server loads it).

    Raises ``DatabaseUnavailableError`` when the server cannot be reached,
    ``AlembicError`` when the first revision fails, ``DemoDataError`` when
    that revision does not create the demo tables.
    """
    began = time.monotonic()
    _recreate(handle)
    with AlembicRunner.for_target(handle).session() as session:
        graph = session.graph()
        first = graph.order[0]
        session.apply(first, Direction.UP)
    counts = fill_demo_data(handle.database, rows=rows)
    with connect(handle.database) as conn:  # the filling is not the application's traffic
        start_statement_stats(conn)
    return DemoReset(
        revision=first,
        pending=len(graph.order) - 1,
        rows=counts,
        seconds=time.monotonic() - began,
    )


def _recreate(handle: TargetHandle) -> None:
    name = sql.Identifier(handle.database.database)
    with connect(handle.database.with_database(MAINTENANCE_DATABASE)) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
