"""What in a migration can break the application that runs today, read from its SQL.

A column or table dropped or renamed, a view or function dropped or renamed,
a column's type changed, NOT NULL added to a column: each is a statement the
running application may still depend on. Index drops are not here (they slow
statements down, they do not break them: the watch looks for that). The
statements come from ``sql_statements`` (PostgreSQL's parser, via pglast).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ObjectType
from pglast.stream import RawStream

from commands.checks.sql_names import SqlName
from commands.checks.sql_statements import Statement


class ChangeKind(StrEnum):
    COLUMN_DROPPED = "column_dropped"
    COLUMN_RENAMED = "column_renamed"
    TYPE_CHANGED = "type_changed"
    NOT_NULL_ADDED = "not_null_added"
    TABLE_DROPPED = "table_dropped"
    TABLE_RENAMED = "table_renamed"
    VIEW_DROPPED = "view_dropped"
    VIEW_RENAMED = "view_renamed"
    FUNCTION_DROPPED = "function_dropped"
    FUNCTION_RENAMED = "function_renamed"

    @property
    def on_column(self) -> bool:
        return self in _COLUMN_KINDS

    @property
    def on_function(self) -> bool:
        return self in (ChangeKind.FUNCTION_DROPPED, ChangeKind.FUNCTION_RENAMED)


_COLUMN_KINDS = frozenset(
    {
        ChangeKind.COLUMN_DROPPED,
        ChangeKind.COLUMN_RENAMED,
        ChangeKind.TYPE_CHANGED,
        ChangeKind.NOT_NULL_ADDED,
    }
)


@dataclass(frozen=True)
class BreakingChange:
    """One change of one statement of one revision."""

    kind: ChangeKind
    revision: str
    statement_number: int
    target: SqlName  # the table, view or function
    column: str | None = None
    detail: str | None = None  # the new name, or the new type

    @property
    def subject(self) -> str:
        """``videos.youtube_id``, ``videos``, ``slugify()``."""
        if self.column is not None:
            return f"{self.target}.{self.column}"
        return f"{self.target}()" if self.kind.on_function else str(self.target)

    @property
    def what(self) -> str:
        """What happens to it: 'is dropped', 'is renamed to x', 'changes type to bigint'."""
        if self.kind is ChangeKind.TYPE_CHANGED:
            return f"changes type to {self.detail}"
        if self.kind is ChangeKind.NOT_NULL_ADDED:
            return "becomes NOT NULL"
        if self.detail is not None:
            return f"is renamed to {self.detail}"
        return "is dropped"

    @property
    def key(self) -> str:
        """Stable across pre-flights of the same plan: what an acknowledgement covers."""
        return f"{self.kind.value}:{self.revision}:{self.subject}"


def breaking_changes(statements: Iterable[Statement]) -> list[BreakingChange]:
    """The changes of ``statements`` (Alembic's bookkeeping and unparsed scripts skipped)."""
    found: list[BreakingChange] = []
    for statement in statements:
        if statement.bookkeeping or statement.node is None:
            continue
        where = (statement.revision, statement.number)
        found += [BreakingChange(kind, *where, *rest) for kind, *rest in _changes(statement.node)]
    return list(dict.fromkeys(found))


_DROPPED = {
    ObjectType.OBJECT_TABLE: ChangeKind.TABLE_DROPPED,
    ObjectType.OBJECT_VIEW: ChangeKind.VIEW_DROPPED,
    ObjectType.OBJECT_MATVIEW: ChangeKind.VIEW_DROPPED,
    ObjectType.OBJECT_FOREIGN_TABLE: ChangeKind.TABLE_DROPPED,
    ObjectType.OBJECT_FUNCTION: ChangeKind.FUNCTION_DROPPED,
    ObjectType.OBJECT_PROCEDURE: ChangeKind.FUNCTION_DROPPED,
    ObjectType.OBJECT_ROUTINE: ChangeKind.FUNCTION_DROPPED,
}
_RENAMED = {
    ObjectType.OBJECT_TABLE: ChangeKind.TABLE_RENAMED,
    ObjectType.OBJECT_FOREIGN_TABLE: ChangeKind.TABLE_RENAMED,
    ObjectType.OBJECT_VIEW: ChangeKind.VIEW_RENAMED,
    ObjectType.OBJECT_MATVIEW: ChangeKind.VIEW_RENAMED,
}
_FUNCTIONS = (ObjectType.OBJECT_FUNCTION, ObjectType.OBJECT_PROCEDURE, ObjectType.OBJECT_ROUTINE)

Change = tuple[Any, ...]  # (kind, target, column, detail)


def _changes(node: Any) -> Iterator[Change]:
    if isinstance(node, ast.DropStmt) and node.removeType in _DROPPED:
        kind = _DROPPED[node.removeType]
        for obj in node.objects or ():
            parts = obj.objname if isinstance(obj, ast.ObjectWithArgs) else obj
            yield kind, SqlName.of_parts(parts), None, None
    elif isinstance(node, ast.AlterTableStmt) and node.relation is not None:
        yield from _altered(SqlName.of_range_var(node.relation), node.cmds or ())
    elif isinstance(node, ast.RenameStmt):
        yield from _renamed(node)


def _altered(table: SqlName, commands: Iterable[Any]) -> Iterator[Change]:
    for command in commands:
        if command.subtype == AlterTableType.AT_DropColumn:
            yield ChangeKind.COLUMN_DROPPED, table, command.name, None
        elif command.subtype == AlterTableType.AT_AlterColumnType:
            new_type = RawStream()(command.def_.typeName)
            yield ChangeKind.TYPE_CHANGED, table, command.name, new_type
        elif command.subtype == AlterTableType.AT_SetNotNull:
            yield ChangeKind.NOT_NULL_ADDED, table, command.name, None


def _renamed(node: ast.RenameStmt) -> Iterator[Change]:
    if node.renameType == ObjectType.OBJECT_COLUMN and node.relation is not None:
        table = SqlName.of_range_var(node.relation)
        yield ChangeKind.COLUMN_RENAMED, table, node.subname, node.newname
    elif node.renameType in _RENAMED and node.relation is not None:
        table = SqlName.of_range_var(node.relation)
        yield _RENAMED[node.renameType], table, None, node.newname
    elif node.renameType in _FUNCTIONS and isinstance(node.object, ast.ObjectWithArgs):
        function = SqlName.of_parts(node.object.objname)
        yield ChangeKind.FUNCTION_RENAMED, function, None, node.newname
