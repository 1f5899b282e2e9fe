"""How much a lint finding matters, given the live size of the table it touches.

Linters read SQL text and cannot tell a 5-row table from a 10-million-row
one; the lock a statement takes matters in proportion to how long it is held,
and that is the table's size. A blocking statement on a small table is a note,
on a large one it fails; the sentence says what the approver needs to know:
"CREATE INDEX without CONCURRENTLY on segments (12.4 M rows, 3.1 GB): blocks
writes for the whole build". Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pglast import ast
from pglast.enums import ConstrType

from commands.checks.framework import Level
from commands.checks.sql_statements import Statement, walk
from commands.checks.table_sizes import TableSize
from commands.config.checks import CheckSettings

_BLOCKS_ALL = "reads and writes wait"
_FOREIGN_KEY = (
    "FOREIGN KEY without NOT VALID",
    "blocks writes to both tables while every row is checked",
)

# Rules whose cost grows with the table: what the statement is, and what it does meanwhile.
BLOCKING_RULES: dict[str, tuple[str, str]] = {
    "require-concurrent-index-creation": (
        "CREATE INDEX without CONCURRENTLY",
        "blocks writes for the whole build",
    ),
    "constraint-missing-not-valid": (
        "ADD CONSTRAINT without NOT VALID",
        f"every row is checked while {_BLOCKS_ALL}",
    ),
    "adding-foreign-key-constraint": _FOREIGN_KEY,
    "changing-column-type": ("ALTER COLUMN TYPE", f"rewrites the table while {_BLOCKS_ALL}"),
    "adding-field-with-default": (
        "ADD COLUMN with a volatile DEFAULT",
        f"rewrites the table while {_BLOCKS_ALL}",
    ),
    "adding-not-nullable-field": ("SET NOT NULL", f"scans the whole table while {_BLOCKS_ALL}"),
    "disallowed-unique-constraint": (
        "ADD CONSTRAINT UNIQUE",
        f"builds its index while {_BLOCKS_ALL}",
    ),
    "adding-serial-primary-key-field": (
        "ADD PRIMARY KEY",
        f"builds its index while {_BLOCKS_ALL}",
    ),
}
# The statement cannot succeed as written, whatever the size.
FATAL_RULES = frozenset({"ban-concurrent-index-creation-in-transaction"})
# Data loss or broken clients: the approver must weigh them, whatever the size.
DESTRUCTIVE_RULES = frozenset(
    {
        "ban-drop-column",
        "ban-drop-table",
        "ban-drop-database",
        "ban-truncate-cascade",
        "renaming-column",
        "renaming-table",
        "ban-drop-not-null",
    }
)
REQUIRED_FIELD_RULE = "adding-required-field"


class SizeClass(StrEnum):
    NEW = "new"  # created by this migration: empty when the statement runs
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Risk:
    level: Level
    sentence: str
    size_class: SizeClass


def size_class(size: TableSize | None, settings: CheckSettings) -> SizeClass:
    """Large if rows or bytes reach a large threshold; small if both are under the small ones."""
    if size is None:
        return SizeClass.UNKNOWN
    if not size.exists:
        return SizeClass.NEW
    rows = size.rows
    if (rows is not None and rows >= settings.large_table_rows) or (
        size.total_bytes >= settings.large_table_size
    ):
        return SizeClass.LARGE
    if (rows is None or rows < settings.small_table_rows) and (
        size.total_bytes < settings.small_table_size
    ):
        return SizeClass.SMALL
    return SizeClass.MEDIUM


_LEVEL_BY_SIZE = {
    SizeClass.NEW: Level.NOTE,
    SizeClass.SMALL: Level.NOTE,
    SizeClass.MEDIUM: Level.WARN,
    SizeClass.LARGE: Level.FAIL,
    SizeClass.UNKNOWN: Level.WARN,
}


def assess(
    rule: str,
    message: str,
    statement: Statement | None,
    size: TableSize | None,
    settings: CheckSettings,
) -> Risk:
    """The level of one finding and the sentence an approver reads."""
    klass = size_class(size, settings)
    where = _where(statement, size)
    if rule in BLOCKING_RULES:
        what, effect = _blocking_words(rule, statement)
        return Risk(_LEVEL_BY_SIZE[klass], f"{what} on {where}: {effect}", klass)
    if rule == REQUIRED_FIELD_RULE:
        empty = klass is SizeClass.NEW or (size is not None and size.rows == 0)
        level = Level.NOTE if empty else Level.FAIL
        return Risk(
            level, f"ADD COLUMN NOT NULL without DEFAULT on {where}: fails on any row", klass
        )
    level = (
        Level.FAIL
        if rule in FATAL_RULES
        else Level.WARN
        if rule in DESTRUCTIVE_RULES
        else Level.NOTE
    )
    return Risk(level, f"{message.rstrip('.')} ({where})", klass)


def _where(statement: Statement | None, size: TableSize | None) -> str:
    table = statement.table if statement is not None else None
    if table is None:
        return "a table the SQL does not name plainly"
    if size is None:
        return table
    return f"{table} ({size.describe()})"


def _blocking_words(rule: str, statement: Statement | None) -> tuple[str, str]:
    """A foreign key locks less than other constraints (SHARE ROW EXCLUSIVE: reads go on)."""
    if rule == "constraint-missing-not-valid" and statement is not None:
        for node in walk(statement.node):
            if isinstance(node, ast.Constraint) and node.contype == ConstrType.CONSTR_FOREIGN:
                return _FOREIGN_KEY
    return BLOCKING_RULES[rule]
