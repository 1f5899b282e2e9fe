"""The statements that make, drop or comment on one schema object, as the history has it.

``ddl.py`` orders them and ``ddl_alter.py`` alters an object in place; both
build on these. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator

from commands.schema.model import Kind, Schema, SchemaObject
from commands.schema.sql_text import ident, literal, object_name, qualified, table_name

_DROP_WORD = {
    Kind.SCHEMA: "SCHEMA",
    Kind.EXTENSION: "EXTENSION",
    Kind.ENUM: "TYPE",
    Kind.DOMAIN: "DOMAIN",
    Kind.SEQUENCE: "SEQUENCE",
    Kind.FUNCTION: "FUNCTION",
    Kind.PROCEDURE: "PROCEDURE",
    Kind.TABLE: "TABLE",
    Kind.INDEX: "INDEX",
    Kind.VIEW: "VIEW",
    Kind.MATERIALIZED_VIEW: "MATERIALIZED VIEW",
}
_COMMENT_WORD = {**_DROP_WORD, Kind.ENUM: "TYPE", Kind.COLUMN: "COLUMN"}


def drop(obj: SchemaObject) -> list[str]:
    if obj.kind in (Kind.COLUMN, Kind.CONSTRAINT):
        return [f"ALTER TABLE {table_name(obj)} DROP {obj.kind.value.upper()} {ident(obj.name)};"]
    if obj.kind is Kind.TRIGGER:
        return [f"DROP TRIGGER {ident(obj.name)} ON {table_name(obj)};"]
    return [f"DROP {_DROP_WORD[obj.kind]} {object_name(obj)};"]


def make(obj: SchemaObject, new: Schema) -> list[str]:
    return {
        Kind.SCHEMA: lambda: [f"CREATE SCHEMA {ident(obj.name)};"],
        Kind.EXTENSION: lambda: [create_extension(obj)],
        Kind.ENUM: lambda: [f"CREATE TYPE {object_name(obj)} AS ENUM ({labels(obj)});"],
        Kind.DOMAIN: lambda: [create_domain(obj)],
        Kind.SEQUENCE: lambda: [f"CREATE SEQUENCE {object_name(obj)}{sequence_options(obj)};"],
        Kind.FUNCTION: lambda: [routine(obj)],
        Kind.PROCEDURE: lambda: [routine(obj)],
        Kind.TABLE: lambda: [create_table(obj, new)],
        Kind.COLUMN: lambda: [f"ALTER TABLE {table_name(obj)} ADD COLUMN {column(obj)};"],
        Kind.CONSTRAINT: lambda: [add_constraint(obj)],
        Kind.INDEX: lambda: [f"{obj.attrs['definition']};"],
        Kind.VIEW: lambda: [create_view(obj)],
        Kind.MATERIALIZED_VIEW: lambda: [create_matview(obj)],
        Kind.TRIGGER: lambda: [f"{obj.attrs['definition']};", *trigger_state(obj)],
    }[obj.kind]()


def afterwards(obj: SchemaObject) -> Iterator[str]:
    """Ownership of a new sequence (its table now exists) and the comments of new objects."""
    if obj.kind is Kind.SEQUENCE and obj.attrs.get("owned by"):
        yield f"ALTER SEQUENCE {object_name(obj)} OWNED BY {obj.attrs['owned by']};"
    if obj.attrs.get("comment") and obj.kind is not Kind.EXTENSION:
        yield comment(obj)


def create_extension(obj: SchemaObject) -> str:
    schema, version = obj.attrs.get("schema"), obj.attrs.get("version")
    where = f" WITH SCHEMA {ident(str(schema))}" if schema and schema != "pg_catalog" else ""
    pinned = f" VERSION {literal(str(version))}" if version else ""
    return f"CREATE EXTENSION IF NOT EXISTS {ident(obj.name)}{where}{pinned};"


def labels(enum: SchemaObject) -> str:
    return ", ".join(literal(v) for v in enum.attrs.get("values") or ())


def create_domain(obj: SchemaObject) -> str:
    attrs, parts = obj.attrs, [f"CREATE DOMAIN {object_name(obj)} AS {obj.attrs['type']}"]
    if attrs.get("collation"):
        parts.append(f"COLLATE {attrs['collation']}")
    if attrs.get("default"):
        parts.append(f"DEFAULT {attrs['default']}")
    if attrs.get("nullable") == "NOT NULL":
        parts.append("NOT NULL")
    parts += [f"CONSTRAINT {check}" for check in attrs.get("constraints") or ()]
    return " ".join(parts) + ";"


def sequence_options(obj: SchemaObject) -> str:
    a = obj.attrs
    return (
        f" AS {a['type']} INCREMENT BY {a['increment']} MINVALUE {a['minimum']}"
        f" MAXVALUE {a['maximum']} START WITH {a['start']} CACHE {a['cache']} {a['cycle']}"
    )


def routine(obj: SchemaObject) -> str:
    return obj.source.rstrip().rstrip(";") + ";"


def create_table(obj: SchemaObject, new: Schema) -> str:
    unlogged = "UNLOGGED " if obj.attrs.get("persistence") == "unlogged" else ""
    head = f"CREATE {unlogged}TABLE {object_name(obj)}"
    parent = obj.attrs.get("partition of")
    if parent:
        schema, _, name = str(parent).partition(".")
        head += (
            f" PARTITION OF {qualified(schema, name)} {obj.attrs.get('partition bound', 'DEFAULT')}"
        )
    else:
        columns = sorted(new.on_table(Kind.COLUMN, obj.schema, obj.name), key=_position)
        head += " (\n" + ",\n".join(f"    {column(c)}" for c in columns) + "\n)"
    key = obj.attrs.get("partition key")
    return head + (f" PARTITION BY {key}" if key else "") + ";"


def _position(column: SchemaObject) -> int:
    return int(str(column.attrs.get("position") or 0))


def column(obj: SchemaObject) -> str:
    a, parts = obj.attrs, [ident(obj.name), str(obj.attrs["type"])]
    if a.get("collation"):
        parts.append(f"COLLATE {a['collation']}")
    if a.get("generated"):
        parts.append(f"GENERATED ALWAYS AS ({a['generated']}) STORED")
    elif a.get("default"):
        parts.append(f"DEFAULT {a['default']}")
    if a.get("identity"):
        parts.append(f"GENERATED {a['identity']} AS IDENTITY")
    if a.get("nullable") == "NOT NULL":
        parts.append("NOT NULL")
    return " ".join(parts)


def add_constraint(obj: SchemaObject) -> str:
    not_valid = " NOT VALID" if obj.attrs.get("validated") == "NOT VALID" else ""
    return (
        f"ALTER TABLE {table_name(obj)} ADD CONSTRAINT {ident(obj.name)}"
        f" {obj.attrs['definition']}{not_valid};"
    )


def create_view(obj: SchemaObject) -> str:
    verb = "CREATE VIEW"
    options = f" WITH ({obj.attrs['options']})" if obj.attrs.get("options") else ""
    query = str(obj.attrs["definition"]).strip().rstrip(";")
    return f"{verb} {object_name(obj)}{options} AS\n{query};"


def create_matview(obj: SchemaObject) -> str:
    query = str(obj.attrs["definition"]).strip().rstrip(";")
    return f"CREATE MATERIALIZED VIEW {object_name(obj)} AS\n{query};"


_TRIGGER_STATES = {
    "enabled": "ENABLE",
    "disabled": "DISABLE",
    "enabled replica": "ENABLE REPLICA",
    "enabled always": "ENABLE ALWAYS",
}


def trigger_state(obj: SchemaObject, *, even_default: bool = False) -> Iterator[str]:
    """A trigger is made enabled: say so only when it is otherwise, or to switch it back."""
    state = str(obj.attrs.get("enabled", "enabled"))
    if state != "enabled" or even_default:
        yield f"ALTER TABLE {table_name(obj)} {_TRIGGER_STATES[state]} TRIGGER {ident(obj.name)};"


def comment(obj: SchemaObject) -> str:
    text = obj.attrs.get("comment")
    value = literal(str(text)) if text else "NULL"
    if obj.kind in (Kind.CONSTRAINT, Kind.TRIGGER):
        target = f"{obj.kind.value.upper()} {ident(obj.name)} ON {table_name(obj)}"
    elif obj.kind is Kind.COLUMN:
        target = f"COLUMN {table_name(obj)}.{ident(obj.name)}"
    else:
        target = f"{_COMMENT_WORD[obj.kind]} {object_name(obj)}"
    return f"COMMENT ON {target} IS {value};"
