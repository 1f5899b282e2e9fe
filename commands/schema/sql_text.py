"""Identifiers and literals written the way PostgreSQL's ``quote_ident`` and
``quote_literal`` write them, for the DDL the bot proposes. Pure."""

from __future__ import annotations

import re

from pglast import keywords

from commands.schema.model import Kind, SchemaObject

_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
_QUOTED_WORDS = (
    keywords.RESERVED_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS | keywords.COL_NAME_KEYWORDS
)


def ident(name: str) -> str:
    """``jobs`` as is, ``Jobs`` and ``user`` quoted, as ``quote_ident`` does."""
    if _PLAIN.match(name) and name not in _QUOTED_WORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def qualified(schema: str, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}"


def object_name(obj: SchemaObject) -> str:
    """How DDL names ``obj``: ``app.jobs``; a routine with its arguments; an extension, a
    schema or an object on a table by its own name."""
    if obj.kind in (Kind.SCHEMA, Kind.EXTENSION):
        return ident(obj.name)
    if obj.kind in (Kind.FUNCTION, Kind.PROCEDURE):
        name, _, arguments = obj.name.partition("(")
        return f"{qualified(obj.schema, name)}({arguments}"
    if obj.kind in (Kind.COLUMN, Kind.CONSTRAINT, Kind.TRIGGER):
        return ident(obj.name)
    return qualified(obj.schema, obj.name)


def table_name(obj: SchemaObject) -> str:
    """The qualified name of the table ``obj`` is on."""
    assert obj.table is not None
    return qualified(obj.schema, obj.table)
