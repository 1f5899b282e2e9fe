"""The DDL that turns one schema into another: for drift, what would make the database
match its history.

Statements come in the order PostgreSQL needs: what goes is dropped first,
dependents before what they depend on (triggers and views, then foreign
keys, constraints, indexes, columns, tables, routines, types, extensions,
schemas); then what is made or altered in build order (schemas, extensions,
types, sequences, routines, tables, columns, constraints with foreign keys
last, indexes, views, triggers), then ownership and comments. The bot never
runs it: it is a proposal for a person to review, and says so. Pure.
"""

from __future__ import annotations

from commands.schema.compare import Comparison
from commands.schema.ddl_alter import alter
from commands.schema.ddl_objects import afterwards, drop, make
from commands.schema.model import BUILD_ORDER, ON_TABLE, Kind, Schema, SchemaObject


def ddl(comparison: Comparison) -> list[str]:
    """The statements that turn ``comparison.old`` into ``comparison.new``, in order."""
    old, new = comparison.old, comparison.new
    keys = comparison.changed_keys()
    drops = [old.objects[k] for k in keys if k not in new.objects]
    drops = [obj for obj in drops if not _goes_with_table(obj, old, new)]
    made = [new.objects[k] for k in keys if k not in old.objects]
    altered = [
        (old.objects[k], new.objects[k]) for k in keys if k in old.objects and k in new.objects
    ]
    statements = [s for obj in sorted(drops, key=_drop_order) for s in drop(obj)]
    for kind in BUILD_ORDER:
        for before, after in sorted(
            (p for p in altered if p[0].kind is kind), key=lambda p: p[1].key
        ):
            statements += alter(before, after, new)
        for obj in sorted((o for o in made if o.kind is kind), key=_make_order):
            if not _made_with_table(obj, old, new):
                statements += make(obj, new)
    statements += [s for obj in made for s in afterwards(obj)]
    return statements


def _goes_with_table(obj: SchemaObject, old: Schema, new: Schema) -> bool:
    """Dropping a table drops its columns, constraints, indexes and triggers."""
    return obj.kind in ON_TABLE and _table_gone(obj, old, new)


def _table_gone(obj: SchemaObject, old: Schema, new: Schema) -> bool:
    key = obj.qualified_table or ""
    return any(old.get(k, key) is not None and new.get(k, key) is None for k in _HOLDERS)


def _made_with_table(obj: SchemaObject, old: Schema, new: Schema) -> bool:
    """A new table's columns are in its CREATE TABLE."""
    return obj.kind is Kind.COLUMN and _table_gone(obj, new, old)


_HOLDERS = (Kind.TABLE, Kind.MATERIALIZED_VIEW)


def _drop_order(obj: SchemaObject) -> tuple[int, int, str]:
    foreign_key_first = 0 if obj.attrs.get("type") == "foreign key" else 1
    return (-BUILD_ORDER.index(obj.kind), foreign_key_first, obj.key)


def _make_order(obj: SchemaObject) -> tuple[int, str]:
    return (1 if obj.attrs.get("type") == "foreign key" else 0, obj.key)
