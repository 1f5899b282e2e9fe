"""What a migration's SQL drops or renames away, read with PostgreSQL's parser.

The verification compares it with what actually disappeared: a removal no
statement names (a trigger gone with ``DROP FUNCTION ... CASCADE``, an index
dropped by hand mid-run) is the one to tell the approver about.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from commands.checks.catalog import ExpectedRemovals
from commands.checks.sql_names import relname
from commands.checks.sql_statements import Statement

_DROPPED_KINDS = {
    ObjectType.OBJECT_INDEX: "index",
    ObjectType.OBJECT_TRIGGER: "trigger",
}
_RENAMED_KINDS = {
    ObjectType.OBJECT_INDEX: "index",
    ObjectType.OBJECT_TRIGGER: "trigger",
    ObjectType.OBJECT_TABCONSTRAINT: "constraint",
}


def expected_removals(statements: Iterable[Statement]) -> ExpectedRemovals:
    tables: set[str] = set()
    objects: set[tuple[str, str]] = set()
    columns: set[tuple[str, str]] = set()
    for statement in statements:
        node: Any = statement.node
        if isinstance(node, ast.DropStmt):
            names = [_names(obj) for obj in node.objects or ()]
            names = [parts for parts in names if parts]
            if node.removeType == ObjectType.OBJECT_TABLE:
                tables |= {parts[-1] for parts in names}
            elif node.removeType in _DROPPED_KINDS:
                objects |= {(_DROPPED_KINDS[node.removeType], parts[-1]) for parts in names}
        elif isinstance(node, ast.AlterTableStmt):
            table = relname(node.relation)
            for command in node.cmds or ():
                if command.subtype == AlterTableType.AT_DropColumn:
                    columns.add((table, command.name))
                elif command.subtype == AlterTableType.AT_DropConstraint:
                    objects.add(("constraint", command.name))
        elif isinstance(node, ast.RenameStmt):
            _renamed(node, tables, objects, columns)
    return ExpectedRemovals(frozenset(tables), frozenset(objects), frozenset(columns))


def _names(obj: Any) -> list[str]:
    """The dotted name parts a DROP names: ``DROP TABLE s.t``, ``DROP FUNCTION f(int)``,
    ``DROP TYPE status`` (a ``TypeName``); empty for what has no plain name."""
    if isinstance(obj, ast.ObjectWithArgs):
        obj = obj.objname
    elif isinstance(obj, ast.TypeName):
        obj = obj.names
    parts = obj if isinstance(obj, tuple) else (obj,)
    return [part.sval or "" for part in parts if isinstance(part, ast.String)]


def _renamed(
    node: Any,
    tables: set[str],
    objects: set[tuple[str, str]],
    columns: set[tuple[str, str]],
) -> None:
    """A rename makes the old name disappear (and the new one appear)."""
    relation = node.relation.relname if node.relation is not None else None
    if node.renameType == ObjectType.OBJECT_TABLE and relation:
        tables.add(relation)
    elif node.renameType == ObjectType.OBJECT_COLUMN and relation:
        columns.add((relation, node.subname))
    elif node.renameType == ObjectType.OBJECT_INDEX and relation:
        objects.add(("index", relation))
    elif node.renameType in _RENAMED_KINDS and node.subname:
        objects.add((_RENAMED_KINDS[node.renameType], node.subname))
