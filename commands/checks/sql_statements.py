"""A revision's offline SQL as statements, read by PostgreSQL's own parser.

``pglast`` wraps libpg_query, the server's parser, so statement boundaries
(dollar quotes, comments) and the tables a statement names are exactly what
PostgreSQL would see. A script the parser rejects is still split, by the
scanner, so findings can be placed; its statements then name no tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pglast
from pglast import ast
from pglast.enums import ObjectType

VERSION_TABLE = "alembic_version"
_SPACES = re.compile(r"\s+")
SHORT_SQL = 100


@dataclass(frozen=True)
class Statement:
    """One statement of a revision's SQL, where it is and what it touches."""

    revision: str
    number: int  # 1-based among the revision's own statements; 0 for Alembic's bookkeeping
    text: str
    start: int  # character offsets into the revision's SQL
    end: int
    line: int  # 1-based
    node: Any  # the pglast AST node, or None when the parser rejected the script
    tables: tuple[str, ...]  # as written ("segments", "public.jobs"); the main one first

    @property
    def bookkeeping(self) -> bool:
        """Alembic's own version-table statements, not the project's migration."""
        return self.number == 0

    @property
    def table(self) -> str | None:
        return self.tables[0] if self.tables else None

    @property
    def short(self) -> str:
        """The statement on one line, cut to a readable length."""
        flat = _SPACES.sub(" ", self.text).strip()
        return flat if len(flat) <= SHORT_SQL else flat[: SHORT_SQL - 1] + "…"


def parse_statements(
    revision: str, sql: str, *, version_table: str = VERSION_TABLE
) -> list[Statement]:
    """The statements of ``sql`` (transaction control left out), numbered in order.

    Statements on ``version_table`` alone (env.py's, ``schema.name`` or a name)
    are Alembic's bookkeeping, numbered 0."""
    bookkeeping_names = {version_table, version_table.rsplit(".", 1)[-1]}
    try:
        parsed: list[tuple[int, int, Any]] = [
            (raw.stmt_location or 0, (raw.stmt_location or 0) + (raw.stmt_len or 0), raw.stmt)
            for raw in pglast.parse_sql(sql)
        ]
    except pglast.parser.ParseError:
        slices = pglast.parser.split(sql, with_parser=False, only_slices=True)
        parsed = [(s.start, s.stop, None) for s in slices]
    statements: list[Statement] = []
    counted = 0
    for start, end, node in parsed:
        if isinstance(node, ast.TransactionStmt):
            continue
        text = sql[start:end]
        offset = start + len(text) - len(text.lstrip())
        tables = tables_of(node) if node is not None else ()
        bookkeeping = bool(tables) and set(tables) <= bookkeeping_names
        counted += 0 if bookkeeping else 1
        statements.append(
            Statement(
                revision=revision,
                number=0 if bookkeeping else counted,
                text=text.strip(),
                start=offset,
                end=end,
                line=sql.count("\n", 0, offset) + 1,
                node=node,
                tables=tables,
            )
        )
    return statements


def statement_at(statements: list[Statement], offset: int) -> Statement | None:
    """The statement that holds character ``offset`` (the last one starting at or before it)."""
    found = None
    for statement in statements:
        if statement.start <= offset:
            found = statement
        else:
            break
    return found


def qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def tables_of(node: Any) -> tuple[str, ...]:
    """Tables a statement names, its main table first, each once."""
    names: list[str] = []
    if isinstance(node, ast.DropStmt):
        names += _dropped_tables(node)
    for child in walk(node):
        if isinstance(child, ast.RangeVar):
            names.append(qualified(child.schemaname, child.relname or ""))
    return tuple(dict.fromkeys(names))


def _dropped_tables(node: ast.DropStmt) -> list[str]:
    """``DROP TABLE t`` and ``DROP TRIGGER x ON t`` name their table as a list of strings."""
    if node.removeType == ObjectType.OBJECT_TABLE:
        return [".".join(s.sval for s in obj) for obj in node.objects or ()]
    if node.removeType == ObjectType.OBJECT_TRIGGER:
        return [".".join(s.sval for s in obj[:-1]) for obj in node.objects or ()]
    return []


def walk(value: Any) -> Iterator[Any]:
    """Every AST node under ``value``, depth first, parents before children."""
    if isinstance(value, ast.Node):
        yield value
        for attribute in value.__slots__:  # type: ignore[attr-defined]  # pglast's stub of Node omits the __slots__ each node class has
            yield from walk(getattr(value, attribute))
    elif isinstance(value, tuple):
        for item in value:
            yield from walk(item)
