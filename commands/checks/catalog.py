"""Snapshots of a database's schema, and what changed between two of them.

The runbook's post-migration step looks at triggers, indexes and foreign keys
by eye; a snapshot taken before the run and one after make that exact: every
table, column, index (valid or not), constraint (validated or not) and
trigger, with its definition as PostgreSQL prints it. The difference is told
in a few lines, and anything that disappeared without a statement of the
migration dropping it (the ``tsv`` trigger gone with a ``DROP FUNCTION ...
CASCADE``) is called out as unexpected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from audit.store import Clock, utc_now
from commands.checks.table_sizes import quoted_name
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

_USER_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'"
)

_QUERIES = {
    "table": f"""
        SELECT n.nspname || '.' || c.relname, c.relname, NULL, c.relkind::text, ''
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {_USER_SCHEMAS}""",
    "column": f"""
        SELECT n.nspname || '.' || c.relname || '.' || a.attname, a.attname,
               n.nspname || '.' || c.relname,
               format_type(a.atttypid, a.atttypmod)
                   || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                   || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''),
               ''
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
          AND {_USER_SCHEMAS}""",
    "index": f"""
        SELECT n.nspname || '.' || i.relname, i.relname, n.nspname || '.' || t.relname,
               pg_get_indexdef(x.indexrelid),
               CASE WHEN x.indisvalid THEN 'valid' ELSE 'INVALID' END
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE {_USER_SCHEMAS}""",
    "constraint": f"""
        SELECT n.nspname || '.' || t.relname || '.' || k.conname, k.conname,
               n.nspname || '.' || t.relname, pg_get_constraintdef(k.oid),
               CASE WHEN k.convalidated THEN 'validated' ELSE 'NOT VALID' END
        FROM pg_constraint k
        JOIN pg_class t ON t.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE {_USER_SCHEMAS}""",
    "trigger": f"""
        SELECT n.nspname || '.' || t.relname || '.' || g.tgname, g.tgname,
               n.nspname || '.' || t.relname, pg_get_triggerdef(g.oid),
               CASE g.tgenabled WHEN 'D' THEN 'disabled' ELSE 'enabled' END
        FROM pg_trigger g
        JOIN pg_class t ON t.oid = g.tgrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE NOT g.tgisinternal AND {_USER_SCHEMAS}""",
}


@dataclass(frozen=True)
class CatalogObject:
    """One schema object: ``key`` is schema-qualified; ``table`` is its table's key."""

    kind: str
    key: str
    name: str
    table: str | None
    definition: str
    state: str

    def describe(self) -> str:
        on = f" on {self.table}" if self.table and self.kind != "column" else ""
        name = self.key if self.kind == "column" else self.name
        return f"{self.kind} {name}{on}"


@dataclass(frozen=True)
class CatalogSnapshot:
    """The schema at one moment, and the row counts of the watched tables."""

    taken_at: datetime
    objects: Mapping[tuple[str, str], CatalogObject]
    row_counts: Mapping[str, int] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[CatalogObject]:
        return [obj for (k, _), obj in self.objects.items() if k == kind]

    def to_json(self) -> dict[str, Any]:
        """Plain data, so the pipeline can keep the before-snapshot in the audit log."""
        return {
            "taken_at": self.taken_at.isoformat(),
            "objects": [obj.__dict__ for obj in self.objects.values()],
            "row_counts": dict(self.row_counts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CatalogSnapshot:
        objects = [CatalogObject(**obj) for obj in data["objects"]]
        return cls(
            taken_at=datetime.fromisoformat(data["taken_at"]),
            objects={(obj.kind, obj.key): obj for obj in objects},
            row_counts=dict(data.get("row_counts", {})),
        )


def snapshot_catalog(
    database: DatabaseUrl, *, watch_tables: Sequence[str] = (), clock: Clock = utc_now
) -> CatalogSnapshot:
    """Tables, columns, indexes, constraints, triggers and watched tables' exact row counts."""
    with connect(database) as conn:
        return snapshot_with(conn, watch_tables=watch_tables, clock=clock)


def snapshot_with(
    conn: psycopg.Connection, *, watch_tables: Sequence[str] = (), clock: Clock = utc_now
) -> CatalogSnapshot:
    objects: dict[tuple[str, str], CatalogObject] = {}
    with conn.transaction():  # one consistent view of the catalog
        for kind, query in _QUERIES.items():
            for key, name, table, definition, state in conn.execute(query).fetchall():
                objects[(kind, key)] = CatalogObject(kind, key, name, table, definition, state)
        counts = {table: _count(conn, table) for table in watch_tables}
    return CatalogSnapshot(taken_at=clock(), objects=objects, row_counts=counts)


def _count(conn: psycopg.Connection, table: str) -> int:
    """Exact rows (the runbook's ``SELECT count(*)``); -1 when the table does not exist."""
    exists = conn.execute("SELECT to_regclass(%s)", (quoted_name(table),)).fetchone()
    if not exists or exists[0] is None:
        return -1
    row = conn.execute(f"SELECT count(*) FROM {quoted_name(table)}").fetchone()
    return int(row[0]) if row else -1


@dataclass(frozen=True)
class Change:
    before: CatalogObject
    after: CatalogObject

    def describe(self) -> str:
        if self.before.state != self.after.state:
            return f"{self.after.describe()}: {self.before.state} -> {self.after.state}"
        return f"{self.after.describe()}: {self.before.definition} -> {self.after.definition}"


@dataclass(frozen=True)
class CatalogDiff:
    """What a migration did to the schema; ``unexpected`` are removals no statement names."""

    added: tuple[CatalogObject, ...]
    removed: tuple[CatalogObject, ...]
    changed: tuple[Change, ...]
    unexpected: tuple[CatalogObject, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        """A readable summary: + added, - removed, ~ changed; unexpected removals say so."""
        surprising = set(self.unexpected)
        lines = [f"+ {obj.describe()}" for obj in self.added]
        for obj in self.removed:
            note = (
                ": UNEXPECTED, no statement of the migration drops it" if obj in surprising else ""
            )
            lines.append(f"- {obj.describe()}{note}")
        lines += [f"~ {change.describe()}" for change in self.changed]
        return lines


def diff_catalog(
    before: CatalogSnapshot, after: CatalogSnapshot, *, expected: ExpectedRemovals
) -> CatalogDiff:
    added = [obj for key, obj in after.objects.items() if key not in before.objects]
    removed = [obj for key, obj in before.objects.items() if key not in after.objects]
    changed = [
        Change(before.objects[key], obj)
        for key, obj in after.objects.items()
        if key in before.objects
        and (before.objects[key].definition, before.objects[key].state)
        != (obj.definition, obj.state)
    ]
    return CatalogDiff(
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        unexpected=tuple(obj for obj in removed if not expected.covers(obj)),
    )


@dataclass(frozen=True)
class ExpectedRemovals:
    """Names the migration's SQL drops or renames away (unqualified, as the SQL writes them)."""

    tables: frozenset[str] = frozenset()
    objects: frozenset[tuple[str, str]] = frozenset()  # (kind, name)
    columns: frozenset[tuple[str, str]] = frozenset()  # (table, column)

    def covers(self, obj: CatalogObject) -> bool:
        table = _last(obj.table) if obj.table else None
        if obj.kind == "table":
            return obj.name in self.tables
        if table in self.tables or (obj.kind, obj.name) in self.objects:
            return True
        if obj.kind == "column":
            return (table, obj.name) in self.columns
        # dropping a column takes the indexes and constraints built on it along
        return any(t == table and column in obj.definition for t, column in self.columns)


def _last(qualified: str) -> str:
    return qualified.rsplit(".", 1)[-1]
