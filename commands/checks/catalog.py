"""Snapshots of a database's schema, and what changed between two of them.

The runbook's post-migration step looks at triggers, indexes and foreign keys
by eye; a snapshot taken before the run and one after make that exact: every
table, column, index (valid or not), constraint (validated or not) and
trigger, with its definition as PostgreSQL prints it. The schema is read by
the drift check's reader (``commands/schema/catalog.py``), whole, so the
run's before/after diff comes from the same snapshots. The difference is told
in a few lines, and anything that disappeared without a statement of the
migration dropping it (the ``tsv`` trigger gone with a ``DROP FUNCTION ...
CASCADE``) is called out as unexpected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import psycopg

from audit.store import Clock, utc_now
from commands.checks.table_sizes import quoted_name
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.schema.catalog import read_schema_with
from commands.schema.model import Kind, Schema, SchemaObject


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
    """The schema at one moment, and the row counts of the watched tables.

    ``schema`` is the whole schema as the drift check reads it
    (``commands/schema``); ``objects`` the kinds verification and the
    forensics of a failed revision judge (tables, columns, indexes,
    constraints, triggers), in their words.
    """

    taken_at: datetime
    schema: Schema
    row_counts: Mapping[str, int] = field(default_factory=dict)

    @cached_property
    def objects(self) -> dict[tuple[str, str], CatalogObject]:
        found = (_judged(obj) for obj in self.schema.objects.values())
        return {(obj.kind, obj.key): obj for obj in found if obj is not None}

    def of_kind(self, kind: str) -> list[CatalogObject]:
        return [obj for (k, _), obj in self.objects.items() if k == kind]

    def to_json(self) -> dict[str, Any]:
        """Plain data, so the before-snapshot can be kept."""
        return {
            "taken_at": self.taken_at.isoformat(),
            "schema": self.schema.to_json(),
            "row_counts": dict(self.row_counts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CatalogSnapshot:
        return cls(
            taken_at=datetime.fromisoformat(data["taken_at"]),
            schema=Schema.from_json(data["schema"]),
            row_counts=dict(data.get("row_counts", {})),
        )


def snapshot_catalog(
    database: DatabaseUrl, *, watch_tables: Sequence[str] = (), clock: Clock = utc_now
) -> CatalogSnapshot:
    """The whole schema and the watched tables' exact row counts."""
    with connect(database) as conn:
        return snapshot_with(conn, watch_tables=watch_tables, clock=clock)


def snapshot_with(
    conn: psycopg.Connection, *, watch_tables: Sequence[str] = (), clock: Clock = utc_now
) -> CatalogSnapshot:
    schema = read_schema_with(conn, clock=clock)
    counts = {table: _count(conn, table) for table in watch_tables}
    return CatalogSnapshot(taken_at=clock(), schema=schema, row_counts=counts)


_STATES = {
    Kind.INDEX: ("valid", "valid"),
    Kind.CONSTRAINT: ("validated", "validated"),
    Kind.TRIGGER: ("enabled", "enabled"),
}
"""The attribute that holds each judged kind's state, and its usual value."""


def _judged(obj: SchemaObject) -> CatalogObject | None:
    """``obj`` as verification words it, if it is of a kind verification judges."""
    attrs = obj.attrs
    if obj.kind is Kind.TABLE:
        return CatalogObject("table", obj.key, obj.name, None, "", "")
    if obj.kind is Kind.COLUMN:
        definition = str(attrs.get("type"))
        definition += " NOT NULL" if attrs.get("nullable") == "NOT NULL" else ""
        definition += f" DEFAULT {attrs['default']}" if attrs.get("default") else ""
        return CatalogObject("column", obj.key, obj.name, obj.qualified_table, definition, "")
    if obj.kind not in _STATES:
        return None
    definition = str(attrs.get("definition", ""))
    if obj.kind is Kind.CONSTRAINT and attrs.get("validated") == "NOT VALID":
        definition += " NOT VALID"
    attribute, usual = _STATES[obj.kind]
    state = str(attrs.get(attribute, usual))
    kind = obj.kind.value
    return CatalogObject(kind, obj.key, obj.name, obj.qualified_table, definition, state)


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
