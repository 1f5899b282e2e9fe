"""What differs between two schemas, object by object and attribute by attribute.

One comparison serves both questions the bot asks: drift (``old`` is the
live database, ``new`` the history replayed) and a run's before/after diff
(``old`` before, ``new`` after). Each difference is one fact: an object only
on one side, or one attribute that differs. An object that is gone with its
table is not listed again (the table says it), but the DDL still covers it.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from commands.schema.model import (
    BUILD_ORDER,
    ON_TABLE,
    Kind,
    ObjectKey,
    Schema,
    SchemaObject,
    Value,
    sha256_json,
)


class Change(StrEnum):
    ADDED = "added"  # only in ``new``
    REMOVED = "removed"  # only in ``old``
    CHANGED = "changed"  # in both, one attribute differs


@dataclass(frozen=True)
class Difference:
    """One fact: ``kind`` object ``display`` was added, removed, or has another ``attribute``."""

    kind: Kind
    key: str
    display: str
    change: Change
    attribute: str | None = None
    old: Value = None
    new: Value = None
    table: str | None = None  # the display name of the object's table, if it has one

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind.value,
            "key": self.key,
            "display": self.display,
            "change": self.change.value,
        }
        if self.table:
            data["table"] = self.table
        if self.change is Change.CHANGED:
            data |= {"attribute": self.attribute, "old": _plain(self.old), "new": _plain(self.new)}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Difference:
        return cls(
            kind=Kind(data["kind"]),
            key=data["key"],
            display=data["display"],
            change=Change(data["change"]),
            attribute=data.get("attribute"),
            old=_value(data.get("old")),
            new=_value(data.get("new")),
            table=data.get("table"),
        )


@dataclass(frozen=True)
class Comparison:
    """``old`` and ``new`` and what differs between them, in build order."""

    old: Schema
    new: Schema
    differences: tuple[Difference, ...]

    @property
    def same(self) -> bool:
        return not self.differences

    def changed_keys(self) -> set[ObjectKey]:
        """Every object the DDL must touch, including those that go with their table."""
        keys = {k for k in self.old.objects.keys() ^ self.new.objects.keys()}
        keys |= {
            k
            for k in self.old.objects.keys() & self.new.objects.keys()
            if self.old.objects[k].compared() != self.new.objects[k].compared()
        }
        return keys

    def digest(self) -> str:
        """sha256 of the differences as canonical JSON: what an audit event names."""
        return sha256_json([d.to_json() for d in self.differences])


def compare(old: Schema, new: Schema) -> Comparison:
    """Every difference from ``old`` to ``new``."""
    found: list[Difference] = []
    for kind in BUILD_ORDER:
        keys = sorted({k for (c, k) in (*old.objects, *new.objects) if c is kind})
        for key in keys:
            before, after = old.get(kind, key), new.get(kind, key)
            if before is None and after is not None:
                if not _goes_with_table(after, old):
                    found.append(_whole(after, Change.ADDED))
            elif after is None and before is not None:
                if not _goes_with_table(before, new):
                    found.append(_whole(before, Change.REMOVED))
            elif before is not None and after is not None:
                found += _attribute_changes(before, after)
    return Comparison(old, new, tuple(found))


def _goes_with_table(obj: SchemaObject, other: Schema) -> bool:
    """An object on a table (or a materialized view) the other side lacks altogether."""
    if obj.kind not in ON_TABLE or obj.table is None:
        return False
    key = f"{obj.schema}.{obj.table}"
    return all(other.get(kind, key) is None for kind in (Kind.TABLE, Kind.MATERIALIZED_VIEW))


def _whole(obj: SchemaObject, change: Change) -> Difference:
    return Difference(obj.kind, obj.key, obj.display, change, table=_table_display(obj))


def _attribute_changes(before: SchemaObject, after: SchemaObject) -> Iterator[Difference]:
    old, new = before.compared(), after.compared()
    differing = [n for n in dict.fromkeys([*old, *new]) if old.get(n) != new.get(n)]
    for name in differing:
        if _said_by_another(name, differing, before, after):
            continue
        yield Difference(
            before.kind,
            before.key,
            before.display,
            Change.CHANGED,
            name,
            before.attrs.get(name),
            after.attrs.get(name),
            _table_display(before),
        )


def _said_by_another(
    name: str, differing: list[str], before: SchemaObject, after: SchemaObject
) -> bool:
    """One fact, one line: an index that only became unique, a constraint of another type."""
    if name != "definition":
        return False
    if before.kind is Kind.INDEX and "unique" in differing:
        return _without_unique(before) == _without_unique(after)
    return before.kind is Kind.CONSTRAINT and "type" in differing


def _without_unique(index: SchemaObject) -> str:
    return str(index.attrs.get("definition", "")).replace("UNIQUE ", "", 1)


def _table_display(obj: SchemaObject) -> str | None:
    if obj.table is None:
        return None
    return SchemaObject(Kind.TABLE, obj.schema, obj.table).display


def _plain(value: Value) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _value(value: Any) -> Value:
    return tuple(value) if isinstance(value, list) else value
