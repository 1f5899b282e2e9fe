"""Names read from pglast's nodes, one way for every forecast module.

PostgreSQL's grammar gives the statements read here their table, column or
function name; pglast's types leave every field optional, so a missing one is
read as empty rather than trusted. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pglast import ast

from commands.checks.sql_statements import qualified


def table_name(node: ast.RangeVar | None) -> str:
    """``schema.table`` or ``table``, as the statement writes it."""
    if node is None:
        return ""
    return qualified(node.schemaname, node.relname or "")


def dotted(parts: Sequence[Any] | None) -> str:
    """A list of ``String`` nodes (``DROP INDEX s.i``, ``COMMENT ON s.t.c``) joined by dots."""
    return ".".join(part.sval or "" for part in parts or () if isinstance(part, ast.String))


def last_name(parts: Sequence[Any] | None) -> str:
    """The last ``String`` of a name (a function's, a column reference's, a type's)."""
    names = [part.sval or "" for part in parts or () if isinstance(part, ast.String)]
    return names[-1] if names else ""


def function_name(node: ast.FuncCall) -> str:
    """The called function's own name, without its schema."""
    return last_name(node.funcname)
