"""A database's schema as plain data: what the catalog reader returns and the cache keeps.

Every object is identified by its kind and its schema-qualified key, and
carries the attributes that are compared (a column's type, default,
nullability, identity, collation and comment; an index's definition,
validity and uniqueness; …) as strings, or tuples of strings for lists (an
enum's values). ``source`` is the statement PostgreSQL prints for objects
that have one (a function's ``CREATE OR REPLACE``): the DDL reuses it, the
comparison does not. Pure: no I/O, so views and the cache can hold it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

DEFAULT_SCHEMA = "public"
"""Names in this schema are shown unqualified, as people write them."""


class Kind(StrEnum):
    """The kinds of object compared, in the order a schema is built."""

    SCHEMA = "schema"
    EXTENSION = "extension"
    ENUM = "enum"
    DOMAIN = "domain"
    SEQUENCE = "sequence"
    FUNCTION = "function"
    PROCEDURE = "procedure"
    TABLE = "table"
    COLUMN = "column"
    CONSTRAINT = "constraint"
    INDEX = "index"
    VIEW = "view"
    MATERIALIZED_VIEW = "materialized view"
    TRIGGER = "trigger"

    @property
    def plural(self) -> str:
        return {Kind.INDEX: "indexes"}.get(self, f"{self.value}s")


BUILD_ORDER = tuple(Kind)
ON_TABLE = frozenset({Kind.COLUMN, Kind.CONSTRAINT, Kind.INDEX, Kind.TRIGGER})
"""Kinds that belong to a table (or a materialized view, for indexes)."""
_NAMED_BY_TABLE = frozenset({Kind.COLUMN, Kind.CONSTRAINT, Kind.TRIGGER})

Value = str | tuple[str, ...] | None
UNCOMPARED = frozenset({"arguments", "position"})
"""Attributes kept for the DDL but not compared: a routine's arguments (its key holds their
types), a column's position (a restore from a backup renumbers columns)."""


@dataclass(frozen=True)
class SchemaObject:
    """One object of the schema: ``schema``-qualified ``name``, on ``table`` if it has one."""

    kind: Kind
    schema: str
    name: str
    table: str | None = None  # the table's name in the same schema (columns, indexes, …)
    attrs: Mapping[str, Value] = field(default_factory=dict)
    source: str = ""

    @property
    def key(self) -> str:
        """Unique within its kind: ``schema.table.name`` for columns, constraints and
        triggers (their names are the table's), ``schema.name`` for the rest (an index's name
        is the schema's), an extension's name alone."""
        if self.kind is Kind.EXTENSION:
            return self.name
        if self.kind in _NAMED_BY_TABLE and self.table:
            return f"{self.schema}.{self.table}.{self.name}"
        return f"{self.schema}.{self.name}"

    @property
    def display(self) -> str:
        """The name people write: ``jobs.status``, ``ix_videos_created``, ``audit.events``."""
        if self.kind in (Kind.SCHEMA, Kind.EXTENSION):
            return self.name
        owner = (
            f"{self.table}." if self.kind in (Kind.COLUMN, Kind.CONSTRAINT, Kind.TRIGGER) else ""
        )
        local = f"{owner}{self.name}" if self.table else self.name
        return local if self.schema == DEFAULT_SCHEMA else f"{self.schema}.{local}"

    def compared(self) -> dict[str, Value]:
        """The attributes a comparison looks at."""
        return {k: v for k, v in self.attrs.items() if k not in UNCOMPARED}

    @property
    def qualified_table(self) -> str | None:
        return f"{self.schema}.{self.table}" if self.table else None

    def names(self) -> Iterator[str]:
        """Every name an ignore pattern may use for it: qualified, as shown, bare; its
        table's too (ignoring a table ignores its columns, indexes and triggers)."""
        yield self.key
        yield self.display
        yield self.name
        if self.table:
            yield f"{self.schema}.{self.table}"
            yield self.table

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind.value, "schema": self.schema, "name": self.name}
        if self.table:
            data["table"] = self.table
        data["attrs"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.attrs.items()}
        if self.source:
            data["source"] = self.source
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SchemaObject:
        return cls(
            kind=Kind(data["kind"]),
            schema=data["schema"],
            name=data["name"],
            table=data.get("table"),
            attrs={k: tuple(v) if isinstance(v, list) else v for k, v in data["attrs"].items()},
            source=data.get("source", ""),
        )


ObjectKey = tuple[Kind, str]


@dataclass(frozen=True)
class Schema:
    """Every object of one database at one moment, by ``(kind, key)``."""

    objects: Mapping[ObjectKey, SchemaObject]
    read_at: datetime | None = None
    server_version: str = ""

    @classmethod
    def of(
        cls, objects: Iterable[SchemaObject], *, read_at: datetime | None = None, version: str = ""
    ) -> Schema:
        return cls({(o.kind, o.key): o for o in objects}, read_at, version)

    def __len__(self) -> int:
        return len(self.objects)

    def get(self, kind: Kind, key: str) -> SchemaObject | None:
        return self.objects.get((kind, key))

    def of_kind(self, kind: Kind) -> list[SchemaObject]:
        return [obj for (k, _), obj in self.objects.items() if k is kind]

    def on_table(self, kind: Kind, schema: str, table: str) -> list[SchemaObject]:
        return [o for o in self.of_kind(kind) if o.schema == schema and o.table == table]

    def without(self, ignored: IgnoreRules) -> Schema:
        """This schema less what ``ignored`` covers."""
        kept = {key: obj for key, obj in self.objects.items() if not ignored.covers(obj)}
        return Schema(kept, self.read_at, self.server_version)

    def to_json(self) -> dict[str, Any]:
        return {
            "read_at": self.read_at.isoformat() if self.read_at else None,
            "server_version": self.server_version,
            "objects": [obj.to_json() for _, obj in sorted(self.objects.items())],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Schema:
        read_at = data.get("read_at")
        return cls.of(
            (SchemaObject.from_json(o) for o in data["objects"]),
            read_at=datetime.fromisoformat(read_at) if read_at else None,
            version=data.get("server_version", ""),
        )

    def digest(self) -> str:
        """sha256 of the objects alone (not when they were read): equal schemas, equal digests."""
        return sha256_json(self.to_json()["objects"])


def sha256_json(value: Any) -> str:
    """sha256 of ``value`` as canonical JSON (sorted keys, no spaces), the way auditors redo it."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class IgnoreRules:
    """What a comparison leaves out: the version table(s) and the target's ``drift_ignore``
    patterns (shell-style: ``audit.*``, ``tmp_*``, ``reporting``)."""

    patterns: tuple[str, ...] = ()
    version_table: str = "alembic_version"

    def covers(self, obj: SchemaObject) -> bool:
        if self._is_version_table(obj):
            return True
        names = set(obj.names())
        return any(fnmatchcase(name, pattern) for pattern in self.patterns for name in names)

    def _is_version_table(self, obj: SchemaObject) -> bool:
        table = obj.table if obj.kind in ON_TABLE else obj.name
        if obj.kind not in ON_TABLE and obj.kind is not Kind.TABLE:
            return False
        schema, _, name = self.version_table.rpartition(".")
        return table == name and (not schema or schema == obj.schema)
