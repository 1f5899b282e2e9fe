"""The live catalog's answers for the lock classification, read once for a whole plan.

Column types (does this type change rewrite?), constraints (what does
VALIDATE check, does a valid CHECK prove a column not null?), the tables of
indexes the plan drops or rebuilds, and the volatility of the functions the
plan calls (does this DEFAULT rewrite?). Reads ``pg_catalog`` only: cheap,
no lock but ACCESS SHARE on catalog tables.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from pglast import ast

from commands.checks.forecast.facts import ConstraintFacts, SchemaFacts
from commands.checks.forecast.names import function_name
from commands.checks.forecast.type_names import ColumnType
from commands.checks.sql_statements import Statement, walk
from commands.checks.table_sizes import quoted_name

_COLUMNS = """
SELECT t.name, a.attname, ty.typname, a.atttypmod, a.attnotnull
FROM unnest(%s::text[], %s::text[]) AS t(name, quoted)
JOIN pg_attribute a ON a.attrelid = to_regclass(t.quoted) AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type ty ON ty.oid = a.atttypid
"""
_CONSTRAINTS = """
SELECT t.name, c.conname, c.contype, c.convalidated,
       CASE WHEN c.contype = 'f' THEN c.confrelid::regclass::text END,
       pg_get_constraintdef(c.oid)
FROM unnest(%s::text[], %s::text[]) AS t(name, quoted)
JOIN pg_constraint c ON c.conrelid = to_regclass(t.quoted)
"""
_INDEXES = """
SELECT t.name, i.indrelid::regclass::text
FROM unnest(%s::text[], %s::text[]) AS t(name, quoted)
JOIN pg_index i ON i.indexrelid = to_regclass(t.quoted)
"""
_VOLATILITY = "SELECT proname, max(provolatile) FROM pg_proc WHERE proname = ANY(%s) GROUP BY 1"


def schema_facts(
    conn: psycopg.Connection, statements: Iterable[Statement], *, server_major: int
) -> SchemaFacts:
    """What the catalog says of every relation and function ``statements`` name."""
    relations: list[str] = []
    functions: list[str] = []
    for statement in statements:
        relations += statement.tables
        relations += _dropped_relations(statement.node)
        functions += [function_name(n) for n in walk(statement.node) if isinstance(n, ast.FuncCall)]
    names = list(dict.fromkeys(relations))
    arguments = (names, [quoted_name(n) for n in names])
    facts = SchemaFacts(server_major=server_major)
    row = conn.execute("SELECT current_setting('TimeZone') IN ('UTC', 'Etc/UTC', 'GMT')").fetchone()
    facts.utc_session = bool(row and row[0])
    for table, column, typname, typmod, not_null in conn.execute(_COLUMNS, arguments):
        facts.add_column(table, column, ColumnType.from_catalog(typname, typmod))
        if not_null:
            facts.prove_not_null(table, column)
    for table, name, kind, valid, foreign, definition in conn.execute(_CONSTRAINTS, arguments):
        column = _not_null_column(definition) if kind in ("c", "n") else None
        facts.add_constraint(table, name, ConstraintFacts(foreign, column))
        if valid and column is not None:
            facts.prove_not_null(table, column)
    for index, table in conn.execute(_INDEXES, arguments):
        facts.index_tables[index] = table
    for name, volatility in conn.execute(_VOLATILITY, (list(dict.fromkeys(functions)),)):
        facts.volatility[name] = volatility
    return facts


def _not_null_column(definition: str) -> str | None:
    """``col`` of ``CHECK ((col IS NOT NULL))`` or ``NOT NULL col`` (PostgreSQL 18), as
    ``pg_get_constraintdef`` prints them; None for any other constraint."""
    text = definition.removesuffix(" NOT VALID")
    if text.startswith("NOT NULL "):
        column = text.removeprefix("NOT NULL ")
    else:
        column, _, rest = text.removeprefix("CHECK ").strip("()").partition(" IS NOT NULL")
        if rest:
            return None
    return None if not column or " " in column else column.strip('"')


def _dropped_relations(node: object) -> list[str]:
    """Indexes named by DROP INDEX, REINDEX INDEX and ALTER INDEX (not RangeVars everywhere)."""
    if isinstance(node, ast.DropStmt):
        return [
            ".".join(part.sval for part in obj)
            for obj in node.objects or ()
            if isinstance(obj, tuple)
        ]
    return []
