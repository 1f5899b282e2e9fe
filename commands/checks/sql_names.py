"""A name as SQL writes it: a table, view or function, with or without its schema.

pglast hands names over as PostgreSQL's parser leaves them: unquoted ones
folded to lower case, quoted ones as written. Two names match when their
object names are equal and their schemas are equal or one is not given (an
unqualified name is looked up in ``search_path``, which the bot cannot see for
the application's sessions; ``public`` is the usual answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pglast import ast


@dataclass(frozen=True, order=True)
class SqlName:
    """``schema.name`` or ``name``, exactly as the parser read it."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def matches(self, other: SqlName) -> bool:
        if self.name != other.name:
            return False
        return self.schema is None or other.schema is None or self.schema == other.schema

    @classmethod
    def of_range_var(cls, node: ast.RangeVar) -> SqlName:
        return cls(node.schemaname or None, node.relname or "")

    @classmethod
    def of_parts(cls, parts: Sequence[Any] | None) -> SqlName:
        """From a list of ``String`` nodes (``DROP VIEW s.v``, ``my_func(…)``); a database
        name in front is ignored."""
        names = [part.sval or "" for part in parts or () if isinstance(part, ast.String)]
        return cls(names[-2] if len(names) > 1 else None, names[-1])


def relname(relation: ast.RangeVar | None) -> str:
    """The table a statement names. PostgreSQL's grammar always gives the statements read
    here one; pglast's types leave every field optional."""
    return (relation.relname or "") if relation is not None else ""
