"""What a run did to the schema: the before/after diff an auditor asks for.

The runbook's "capture before/after schema diffs if required by compliance",
done on every run from the two catalog snapshots the run takes anyway. The
diff holds the differences and, for each object they touch, its attributes
before and after, so it renders as lines, as a unified diff and as DDL
without the database. Its sha256 (canonical JSON) goes into the audit log;
the diff itself is kept in the state, where anyone can hash it again. Pure.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from commands.schema.compare import Difference, compare
from commands.schema.model import BUILD_ORDER, Schema, SchemaObject, sha256_json
from commands.schema.wording import change_line, counts_line


@dataclass(frozen=True)
class SchemaChanges:
    """The differences from ``before`` to ``after`` and the objects they touch, both sides."""

    before_sha256: str
    after_sha256: str
    differences: tuple[Difference, ...]
    before: tuple[SchemaObject, ...]  # the touched objects as they were (absent: new)
    after: tuple[SchemaObject, ...]  # as they are (absent: gone)

    @property
    def empty(self) -> bool:
        return not self.differences

    def lines(self) -> list[str]:
        return [change_line(d) for d in self.differences]

    def summary(self) -> str:
        """ "3 tables changed, 1 index added" (or "no schema change")."""
        return counts_line(self.differences)

    def sha256(self) -> str:
        return sha256_json(self.to_json())

    def unified(self, *, before_label: str = "before", after_label: str = "after") -> str:
        """The touched objects before and after as a unified diff (``diff -u``)."""
        lines = difflib.unified_diff(
            list(_text(self.before)),
            list(_text(self.after)),
            fromfile=before_label,
            tofile=after_label,
            lineterm="",
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "before_sha256": self.before_sha256,
            "after_sha256": self.after_sha256,
            "differences": [d.to_json() for d in self.differences],
            "before": [o.to_json() for o in self.before],
            "after": [o.to_json() for o in self.after],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SchemaChanges:
        return cls(
            before_sha256=data["before_sha256"],
            after_sha256=data["after_sha256"],
            differences=tuple(Difference.from_json(d) for d in data["differences"]),
            before=tuple(SchemaObject.from_json(o) for o in data["before"]),
            after=tuple(SchemaObject.from_json(o) for o in data["after"]),
        )


def schema_changes(before: Schema, after: Schema) -> SchemaChanges:
    """The diff of a run from the schemas read before and after it."""
    comparison = compare(before, after)
    touched = comparison.changed_keys()
    return SchemaChanges(
        before_sha256=before.digest(),
        after_sha256=after.digest(),
        differences=comparison.differences,
        before=_objects(before, touched),
        after=_objects(after, touched),
    )


def _objects(schema: Schema, keys: set[Any]) -> tuple[SchemaObject, ...]:
    found = [schema.objects[key] for key in keys if key in schema.objects]
    return tuple(sorted(found, key=_order))


def _order(obj: SchemaObject) -> tuple[int, str]:
    return (BUILD_ORDER.index(obj.kind), obj.key)


def _text(objects: tuple[SchemaObject, ...]) -> Iterator[str]:
    """One line per attribute, each naming its object (so the diff never pairs one object's
    line with another's); a multi-line value's lines follow, named the same way."""
    for obj in objects:
        on = f" on {obj.table}" if obj.table and obj.kind.value in ("index", "trigger") else ""
        subject = f"{obj.kind.value} {obj.display}{on}"
        attributes = sorted(obj.compared().items()) or [("exists", "yes")]
        for name, value in attributes:
            shown = ", ".join(value) if isinstance(value, tuple) else str(value)
            first, *rest = shown.splitlines() or [""]
            yield f"{subject} · {name}: {first}"
            yield from (f"{subject} ·     {line}" for line in rest)
