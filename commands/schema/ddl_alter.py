"""Altering one object in place so that it matches its other version.

Where PostgreSQL can change an attribute in place (a column's type, default,
nullability or identity; an index rebuilt; a constraint validated; an enum's
new values) it is altered; where it cannot (an index's definition, a
materialized view's query, an enum losing a value) the object is dropped
and made again, or the statement says why it cannot be done. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from commands.schema.ddl_objects import (
    add_constraint,
    comment,
    create_matview,
    create_view,
    drop,
    labels,
    routine,
    sequence_options,
    trigger_state,
)
from commands.schema.model import Kind, Schema, SchemaObject
from commands.schema.sql_text import ident, literal, object_name, qualified, table_name


def alter(before: SchemaObject, after: SchemaObject, new: Schema) -> list[str]:
    old_attrs, new_attrs = before.compared(), after.compared()
    differing = {k for k in {*old_attrs, *new_attrs} if old_attrs.get(k) != new_attrs.get(k)}
    statements = _ALTERS[after.kind](before, after, differing - {"comment"}, new)
    if "comment" in differing:
        statements.append(comment(after))
    return statements


def _alter_column(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    column, table, attrs = ident(after.name), table_name(after), after.attrs
    alter = f"ALTER TABLE {table} ALTER COLUMN {column}"
    statements = []
    if differing & {"type", "collation"}:
        collate = f" COLLATE {attrs['collation']}" if attrs.get("collation") else ""
        kind = attrs["type"]
        statements.append(f"{alter} TYPE {kind}{collate} USING {column}::{kind};")
    if "identity" in differing:
        if not attrs.get("identity"):
            statements.append(f"{alter} DROP IDENTITY;")
        elif before.attrs.get("identity"):
            statements.append(f"{alter} SET GENERATED {attrs['identity']};")
        else:
            statements.append(f"{alter} ADD GENERATED {attrs['identity']} AS IDENTITY;")
    if "default" in differing:
        statements.append(_set_default(alter, attrs))
    if "generated" in differing:
        expression = attrs.get("generated")
        statements.append(
            f"{alter} SET EXPRESSION AS ({expression});  -- PostgreSQL 17+"
            if expression
            else f"{alter} DROP EXPRESSION;"
        )
    if "nullable" in differing:
        statements.append(_set_not_null(alter, attrs))
    return statements


def _set_default(alter: str, attrs: Mapping[str, Any]) -> str:
    """``alter`` (a column's or a domain's ``ALTER``) given the default ``attrs`` has."""
    default = attrs.get("default")
    return f"{alter} SET DEFAULT {default};" if default else f"{alter} DROP DEFAULT;"


def _set_not_null(alter: str, attrs: Mapping[str, Any]) -> str:
    """``alter`` made as nullable as ``attrs`` says."""
    verb = "SET" if attrs.get("nullable") == "NOT NULL" else "DROP"
    return f"{alter} {verb} NOT NULL;"


def _alter_index(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    if differing & {"definition", "unique"}:
        return [*drop(before), f"{after.attrs['definition']};"]
    if "valid" in differing and after.attrs.get("valid") == "valid":
        return [f"REINDEX INDEX {object_name(after)};"]
    return []


def _alter_constraint(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    if differing & {"definition", "type"} or after.attrs.get("validated") != "validated":
        return [*drop(before), add_constraint(after)]
    if "validated" in differing:
        return [f"ALTER TABLE {table_name(after)} VALIDATE CONSTRAINT {ident(after.name)};"]
    return []


def _alter_routine(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    if "returns" in differing:
        return [*drop(before), routine(after)]
    return [routine(after)] if differing else []


def _alter_trigger(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    if "definition" in differing:
        return [*drop(before), f"{after.attrs['definition']};", *trigger_state(after)]
    return list(trigger_state(after, even_default=True)) if "enabled" in differing else []


def _alter_view(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    """Dropped and made again: ``CREATE OR REPLACE VIEW`` cannot drop or rename a column."""
    return [*drop(before), create_view(after)] if differing else []


def _alter_matview(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    if not differing:
        return []
    indexes = new.on_table(Kind.INDEX, after.schema, after.name)
    return [*drop(before), create_matview(after), *(f"{i.attrs['definition']};" for i in indexes)]


def _alter_sequence(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    if not differing:
        return []
    owner = after.attrs.get("owned by") or "NONE"
    return [f"ALTER SEQUENCE {object_name(after)}{sequence_options(after)} OWNED BY {owner};"]


def _alter_enum(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    if "values" not in differing:
        return []
    old_values, new_values = before.attrs.get("values") or (), after.attrs.get("values") or ()
    if [v for v in new_values if v in old_values] == list(old_values):
        return list(_added_labels(after, tuple(old_values), tuple(new_values)))
    return _rebuilt_enum(after, new)


def _added_labels(enum: SchemaObject, old: tuple[str, ...], new: tuple[str, ...]) -> Iterator[str]:
    for position, label in enumerate(new):
        if label in old:
            continue
        where = f" BEFORE {literal(new[position + 1])}" if position + 1 < len(new) else ""
        yield f"ALTER TYPE {object_name(enum)} ADD VALUE {literal(label)}{where};"
        old = (*old, label)


def _rebuilt_enum(enum: SchemaObject, new: Schema) -> list[str]:
    """PostgreSQL cannot remove or reorder an enum's values: a new type replaces it."""
    name, old_name = object_name(enum), qualified(enum.schema, f"{enum.name}__drifted")
    type_names = {enum.name, f"{enum.schema}.{enum.name}"}
    columns = [c for c in new.of_kind(Kind.COLUMN) if c.attrs.get("type") in type_names]
    return [
        "-- the database's enum has values the history lacks: rows holding one stop this",
        f"ALTER TYPE {name} RENAME TO {ident(enum.name + '__drifted')};",
        f"CREATE TYPE {name} AS ENUM ({labels(enum)});",
        *(
            f"ALTER TABLE {table_name(c)} ALTER COLUMN {ident(c.name)} TYPE {name}"
            f" USING {ident(c.name)}::text::{name};"
            for c in columns
        ),
        f"DROP TYPE {old_name};",
    ]


def _alter_domain(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    name, attrs = object_name(after), after.attrs
    if differing & {"type", "collation"}:
        return [f"-- domain {name}: PostgreSQL cannot change its type or collation in place"]
    statements = []
    if "default" in differing:
        statements.append(_set_default(f"ALTER DOMAIN {name}", attrs))
    if "nullable" in differing:
        statements.append(_set_not_null(f"ALTER DOMAIN {name}", attrs))
    if "constraints" in differing:
        old_checks, new_checks = (
            before.attrs.get("constraints") or (),
            attrs.get("constraints") or (),
        )
        for check in old_checks:
            if check not in new_checks:
                statements.append(f"ALTER DOMAIN {name} DROP CONSTRAINT {check.split(' ', 1)[0]};")
        for check in new_checks:
            if check not in old_checks:
                statements.append(f"ALTER DOMAIN {name} ADD CONSTRAINT {check};")
    return statements


def _alter_extension(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    statements = []
    if "schema" in differing:
        statements.append(
            f"ALTER EXTENSION {ident(after.name)} SET SCHEMA {ident(str(after.attrs['schema']))};"
        )
    if "version" in differing:
        statements.append(
            f"ALTER EXTENSION {ident(after.name)} UPDATE TO {literal(str(after.attrs['version']))};"
        )
    return statements


def _alter_table(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    statements = []
    if "persistence" in differing:
        logged = "UNLOGGED" if after.attrs.get("persistence") == "unlogged" else "LOGGED"
        statements.append(f"ALTER TABLE {object_name(after)} SET {logged};")
    if differing - {"persistence"}:
        statements.append(
            f"-- table {object_name(after)}: its partitioning differs, which PostgreSQL"
            " cannot change in place"
        )
    return statements


def _nothing(
    before: SchemaObject, after: SchemaObject, differing: set[str], new: Schema
) -> list[str]:
    return []


_ALTERS = {
    Kind.SCHEMA: _nothing,
    Kind.EXTENSION: _alter_extension,
    Kind.ENUM: _alter_enum,
    Kind.DOMAIN: _alter_domain,
    Kind.SEQUENCE: _alter_sequence,
    Kind.FUNCTION: _alter_routine,
    Kind.PROCEDURE: _alter_routine,
    Kind.TABLE: _alter_table,
    Kind.COLUMN: _alter_column,
    Kind.CONSTRAINT: _alter_constraint,
    Kind.INDEX: _alter_index,
    Kind.VIEW: _alter_view,
    Kind.MATERIALIZED_VIEW: _alter_matview,
    Kind.TRIGGER: _alter_trigger,
}
