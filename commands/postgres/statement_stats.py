"""What the database knows of the application's statements: ``pg_stat_statements``
and ``pg_stat_user_tables``, read for the ``live_use`` check and the watch.

``pg_stat_statements`` keeps, per normalised statement (``$1`` for constants),
per role and database, the calls and time since its statistics were reset. It
keeps no time of last use and no ``application_name``: a statement is told
apart only by its text, its role (``userid``) and its database (``dbid``).
Everything here reads the current database only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from commands.postgres.database_activity import DatabaseActivity, database_activity

EXTENSION = "pg_stat_statements"
HIDDEN_TEXT = "<insufficient privilege>"  # another role's statement, without pg_read_all_stats


@dataclass(frozen=True)
class StatsSource:
    """``pg_stat_statements`` as installed in this database."""

    schema: str
    version: str
    stats_reset: datetime | None  # pg_stat_statements_info, 1.9+ (PostgreSQL 14+)
    has_stats_since: bool  # per-statement stats_since, 1.11+ (PostgreSQL 17+)
    sees_every_role: bool  # superuser or pg_read_all_stats: other roles' texts are readable
    role: str

    @property
    def view(self) -> sql.Composable:
        return sql.Identifier(self.schema, EXTENSION)


@dataclass(frozen=True)
class StatsMissing:
    """Why there is nothing to read, and how to enable it."""

    reason: str
    fix: tuple[str, ...]


@dataclass(frozen=True)
class StatementRow:
    """One normalised statement of this database, summed over roles."""

    queryid: str
    query: str
    calls: int
    total_ms: float
    roles: tuple[str, ...]
    stats_since: datetime | None = None

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class UsageSample:
    """Counters at one moment: per statement (calls, total ms), per table (seq scans, rows)."""

    at: datetime
    stats_reset: datetime | None
    statements: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    tables: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    complete: bool = True  # every statement is in; False: only the most called were kept
    database: DatabaseActivity | None = None  # pg_stat_database (None: not read)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "complete": self.complete,
            "database": None if self.database is None else self.database.to_json(),
            "stats_reset": self.stats_reset.isoformat() if self.stats_reset else None,
            "statements": {k: [c, round(t, 3)] for k, (c, t) in self.statements.items()},
            "tables": {k: [s, r] for k, (s, r) in self.tables.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UsageSample:
        reset = data.get("stats_reset")
        return cls(
            at=datetime.fromisoformat(data["at"]),
            stats_reset=datetime.fromisoformat(reset) if reset else None,
            statements={k: (int(v[0]), float(v[1])) for k, v in data["statements"].items()},
            tables={k: (int(v[0]), int(v[1])) for k, v in data["tables"].items()},
            complete=bool(data.get("complete", True)),
            database=DatabaseActivity.from_json(data.get("database")),
        )


_EXTENSION = """
WITH me AS (
    SELECT current_user AS role, current_database() AS database,
           (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser
)
SELECT e.extversion, n.nspname, me.role, me.database,
       me.superuser OR pg_has_role('pg_read_all_stats', 'MEMBER'),
       -- shared_preload_libraries is for superusers and pg_read_all_settings only
       CASE WHEN me.superuser OR pg_has_role('pg_read_all_settings', 'MEMBER')
            THEN current_setting('shared_preload_libraries') END
FROM me
LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
"""
_ENABLE = (
    f"add {EXTENSION} to shared_preload_libraries (postgresql.conf, ALTER SYSTEM,"
    " or a managed service's parameter group) and restart PostgreSQL"
)


def _create(database: str) -> str:
    return f"in database {database}, as its owner or a superuser: CREATE EXTENSION {EXTENSION}"


def find_statement_stats(conn: psycopg.Connection) -> StatsSource | StatsMissing:
    """Where to read ``pg_stat_statements`` here, or why it cannot be and how to fix that.

    Raises ``psycopg.Error`` when the view is there but refuses to be read.
    """
    row = conn.execute(_EXTENSION).fetchone()
    assert row is not None
    version, schema, role, database, sees_all, preload = row
    loaded = None if preload is None else EXTENSION in [n.strip() for n in preload.split(",")]
    if version is not None and loaded is not False:
        loaded = loaded or _readable(conn, schema)
    if loaded is False:
        return StatsMissing(
            f"{EXTENSION} is not loaded on this server"
            + (f" (shared_preload_libraries = '{preload}')" if preload is not None else "")
            + ": no evidence either way",
            (_ENABLE, f"then {_create(database)}"),
        )
    if version is None:
        if loaded:
            where = f"{EXTENSION} is loaded but not installed in database {database}"
            return StatsMissing(f"{where}: no evidence either way", (_create(database),))
        return StatsMissing(
            f"{EXTENSION} is not installed in database {database} (and {role} may not read"
            " shared_preload_libraries to tell whether the server loads it): no evidence"
            " either way",
            (f"if the server does not load it: {_ENABLE}", f"then {_create(database)}"),
        )
    major, _, minor = str(version).partition(".")
    level = (int(major), int(minor or 0))
    return StatsSource(
        schema=schema,
        version=str(version),
        stats_reset=_stats_reset(conn, schema) if level >= (1, 9) else None,
        has_stats_since=level >= (1, 11),
        sees_every_role=bool(sees_all),
        role=str(role),
    )


def _readable(conn: psycopg.Connection, schema: str) -> bool:
    """Whether the installed view answers (it refuses while the library is not loaded)."""
    query = sql.SQL("SELECT FROM {} LIMIT 0").format(sql.Identifier(schema, EXTENSION))
    try:
        with conn.transaction():
            conn.execute(query)
    except psycopg.errors.ObjectNotInPrerequisiteState:  # "must be loaded via shared_preload…"
        return False
    return True


def start_statement_stats(conn: psycopg.Connection) -> bool:
    """Install the extension in this database and start its counts from zero (the demo
    does, after filling its tables); False when the server does not load the library."""
    row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    if row is None or EXTENSION not in [n.strip() for n in str(row[0]).split(",")]:
        return False
    conn.execute(f"CREATE EXTENSION IF NOT EXISTS {EXTENSION}")
    conn.execute("SELECT pg_stat_statements_reset()")
    return True


def _stats_reset(conn: psycopg.Connection, schema: str) -> datetime | None:
    query = sql.SQL("SELECT stats_reset FROM {}").format(
        sql.Identifier(schema, "pg_stat_statements_info")
    )
    row = conn.execute(query).fetchone()
    return row[0] if row else None


def _scope(source: StatsSource, roles: Sequence[str]) -> tuple[sql.Composable, dict[str, Any]]:
    """This database's rows, of ``roles`` only when some are named."""
    where = sql.SQL(
        "s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND (cardinality(%(roles)s::text[]) = 0 OR r.rolname = ANY(%(roles)s::text[]))"
    )
    return where, {"roles": list(roles)}


def statements_naming(
    conn: psycopg.Connection,
    source: StatsSource,
    names: Iterable[str],
    *,
    roles: Sequence[str] = (),
) -> list[StatementRow]:
    """Statements whose text holds any of ``names`` (a cheap filter before parsing them)."""
    wanted = sorted({name.lower() for name in names if name})
    if not wanted:
        return []
    where, params = _scope(source, roles)
    since = sql.SQL("min(s.stats_since)" if source.has_stats_since else "NULL::timestamptz")
    query = sql.SQL(
        "SELECT s.queryid::text, min(s.query), sum(s.calls)::bigint, sum(s.total_exec_time),"
        " array_agg(DISTINCT coalesce(r.rolname, s.userid::text)), {since}"
        " FROM {view} s LEFT JOIN pg_roles r ON r.oid = s.userid"
        " WHERE {where} AND s.query <> %(hidden)s"
        " AND EXISTS (SELECT FROM unnest(%(names)s::text[]) n WHERE strpos(lower(s.query), n) > 0)"
        " GROUP BY s.queryid ORDER BY sum(s.calls) DESC"
    ).format(since=since, view=source.view, where=where)
    found = conn.execute(query, {**params, "names": wanted, "hidden": HIDDEN_TEXT}).fetchall()
    return [
        StatementRow(str(qid), text, int(calls), float(total), tuple(who), since_at)
        for qid, text, calls, total, who, since_at in found
    ]


def hidden_statements(
    conn: psycopg.Connection, source: StatsSource, *, roles: Sequence[str] = ()
) -> int:
    """How many of this database's statements the bot's role may not read the text of."""
    where, params = _scope(source, roles)
    query = sql.SQL(
        "SELECT count(*) FROM {view} s LEFT JOIN pg_roles r ON r.oid = s.userid"
        " WHERE {where} AND s.query = %(hidden)s"
    ).format(view=source.view, where=where)
    row = conn.execute(query, {**params, "hidden": HIDDEN_TEXT}).fetchone()
    return int(row[0]) if row else 0


def statement_counters(
    conn: psycopg.Connection,
    source: StatsSource,
    *,
    queryids: Sequence[str] | None = None,
    roles: Sequence[str] = (),
    limit: int = 500,
) -> dict[str, tuple[int, float]]:
    """(calls, total ms) per statement: of ``queryids``, or of the ``limit`` most called."""
    where, params = _scope(source, roles)
    only = sql.SQL(" AND s.queryid::text = ANY(%(ids)s::text[])" if queryids is not None else "")
    query = sql.SQL(
        "SELECT s.queryid::text, sum(s.calls)::bigint, sum(s.total_exec_time)"
        " FROM {view} s LEFT JOIN pg_roles r ON r.oid = s.userid WHERE {where}{only}"
        " GROUP BY s.queryid ORDER BY sum(s.calls) DESC LIMIT %(limit)s"
    ).format(view=source.view, where=where, only=only)
    found = conn.execute(query, {**params, "ids": list(queryids or ()), "limit": limit})
    return {qid: (int(calls), float(total)) for qid, calls, total in found.fetchall()}


def statement_texts(
    conn: psycopg.Connection, source: StatsSource, queryids: Sequence[str]
) -> dict[str, str]:
    """The text of each statement in ``queryids`` still kept (one per statement)."""
    query = sql.SQL(
        "SELECT s.queryid::text, min(s.query) FROM {view} s"
        " WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND s.queryid::text = ANY(%(ids)s::text[]) GROUP BY s.queryid"
    ).format(view=source.view)
    return dict(conn.execute(query, {"ids": list(queryids)}).fetchall())


_TABLES = """
SELECT quote_ident(t.schemaname) || '.' || quote_ident(t.relname), t.seq_scan,
       greatest(t.n_live_tup, c.reltuples::bigint, 0)
FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
"""


def table_scans(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    """(sequential scans so far, rows) of every user table, by ``schema.table``."""
    return {name: (int(scans), int(rows)) for name, scans, rows in conn.execute(_TABLES)}


def sample_usage(
    conn: psycopg.Connection,
    source: StatsSource | None,
    *,
    roles: Sequence[str] = (),
    limit: int = 500,
) -> UsageSample:
    """Counters now: the ``limit`` most called statements (none without the extension),
    every user table's sequential scans and the database's transactions."""
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    statements = (
        statement_counters(conn, source, roles=roles, limit=limit) if source is not None else {}
    )
    return UsageSample(
        at=row[0],
        stats_reset=_stats_reset(conn, source.schema) if source and source.stats_reset else None,
        statements=statements,
        tables=table_scans(conn),
        complete=len(statements) < limit,
        database=database_activity(conn),
    )
