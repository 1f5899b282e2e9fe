"""What one application statement reads and writes, read with PostgreSQL's parser.

A normalised statement from ``pg_stat_statements`` (``$1`` for constants) is
parsed with pglast and walked scope by scope: each ``FROM`` item is a table
(under its alias, if it has one), a CTE, a subquery or a function; a column
reference is resolved through the aliases of its own scope first, then the
enclosing ones (correlated subqueries). ``v.youtube_id`` belongs to the table
aliased ``v``; an unqualified ``youtube_id`` belongs to the only table of its
scope, or, with several, is kept with every candidate for the caller to settle
with the catalog. ``*`` and ``INSERT`` without a column list touch every column.

Only data statements count (SELECT, INSERT, UPDATE, DELETE, MERGE, and the query
of a DECLARE … CURSOR): DDL, COPY (pg_dump's ``COPY … TO stdout``), EXPLAIN
and the rest are the work of migration tools, dumps and people, not the
application's code paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pglast
from pglast import ast
from pglast.enums import SetOperation

from commands.checks.sql_names import SqlName, relname

_DATA_STATEMENTS = (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


@dataclass(frozen=True)
class ColumnUse:
    """A column read or written; ``column`` None is ``*`` (every column).

    ``levels``: the tables it may belong to, innermost query level first. A
    qualified reference has one level of one table; an unqualified one has the
    tables of each enclosing level, for the catalog to settle (``owner``).
    """

    levels: tuple[tuple[SqlName, ...], ...]
    column: str | None
    writes: bool = False

    @property
    def candidates(self) -> tuple[SqlName, ...]:
        return self.levels[0] if self.levels else ()


@dataclass(frozen=True)
class StatementUses:
    """Everything a statement names, with what it does to it."""

    relations: frozenset[SqlName]  # tables and views (CTE names left out)
    written: frozenset[SqlName]  # targets of INSERT, UPDATE, DELETE, MERGE
    columns: tuple[ColumnUse, ...]
    functions: frozenset[SqlName]
    inserts: tuple[tuple[SqlName, tuple[str, ...] | None], ...]  # target, its column list


def uses_of(text: str) -> StatementUses | None:
    """What ``text`` uses; None when it is not a data statement or does not parse."""
    try:
        parsed = pglast.parse_sql(text)
    except pglast.parser.ParseError:
        return None
    nodes = [_data_node(raw.stmt) for raw in parsed]
    if not nodes or any(node is None for node in nodes):
        return None
    walker = _Walker()
    for node in nodes:
        walker.visit(node, None)
    return walker.result()


def _data_node(node: Any) -> Any:
    if isinstance(node, ast.DeclareCursorStmt):
        node = node.query
    return node if isinstance(node, _DATA_STATEMENTS) else None


@dataclass
class _Scope:
    """The names one query level can see: (name as visible, the table or None)."""

    parent: _Scope | None
    entries: list[tuple[str, SqlName | None]] = field(default_factory=list)
    ctes: set[str] = field(default_factory=set)

    def chain(self) -> Iterator[_Scope]:
        scope: _Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent

    def is_cte(self, name: str) -> bool:
        return any(name in scope.ctes for scope in self.chain())

    def lookup(self, qualifier: str) -> tuple[bool, SqlName | None]:
        """(found, table) for ``qualifier.column``: an alias or a table's own name."""
        for scope in self.chain():
            for visible, table in scope.entries:
                if visible == qualifier:
                    return True, table
        return False, None

    def levels(self) -> tuple[tuple[SqlName, ...], ...]:
        """The tables of each level, innermost first, from the first with ``FROM`` entries
        (a level of CTEs and subqueries only has no tables: its columns are theirs)."""
        found = [
            tuple(table for _, table in scope.entries if table is not None)
            for scope in self.chain()
            if scope.entries
        ]
        return tuple(found) if found and found[0] else ()


class _Walker:
    """Collects the uses while walking one statement's tree."""

    def __init__(self) -> None:
        self.relations: set[SqlName] = set()
        self.written: set[SqlName] = set()
        self.columns: list[ColumnUse] = []
        self.functions: set[SqlName] = set()
        self.inserts: list[tuple[SqlName, tuple[str, ...] | None]] = []

    def result(self) -> StatementUses:
        return StatementUses(
            frozenset(self.relations),
            frozenset(self.written),
            tuple(dict.fromkeys(self.columns)),
            frozenset(self.functions),
            tuple(self.inserts),
        )

    # the walk ------------------------------------------------------------------

    def visit(self, node: Any, scope: _Scope | None) -> None:
        if isinstance(node, tuple | list):
            for item in node:
                self.visit(item, scope)
            return
        if not isinstance(node, ast.Node):
            return
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(self, node, scope)
            return
        self._children(node, scope)

    def _children(self, node: Any, scope: _Scope | None, skip: Iterable[str] = ()) -> None:
        skipped = set(skip)
        for name in node.__slots__:
            if name not in skipped:
                self.visit(getattr(node, name), scope)

    def _level(self, parent: _Scope | None, with_clause: Any) -> _Scope:
        """A new query level, its CTEs walked and named first."""
        scope = _Scope(parent)
        if with_clause is not None:
            for cte in with_clause.ctes or ():
                scope.ctes.add(cte.ctename)
                self.visit(cte.ctequery, scope)
        return scope

    def _table(self, node: ast.RangeVar | None, scope: _Scope) -> SqlName | None:
        """A ``FROM`` table entered into ``scope`` (a CTE's name is not a table)."""
        if node is None:  # what pglast's types allow; no statement read here has none
            return None
        alias = node.alias.aliasname if node.alias is not None else None
        name = relname(node)
        if node.schemaname is None and scope.is_cte(name):
            scope.entries.append((alias or name, None))
            return None
        table = SqlName.of_range_var(node)
        self.relations.add(table)
        scope.entries.append((alias or name, table))
        return table

    def _from(self, items: Any, scope: _Scope) -> None:
        """Enter ``FROM`` items into ``scope``; join conditions are walked once all are in."""
        conditions: list[Any] = []
        for item in items or ():
            self._from_item(item, scope, conditions)
        for condition in conditions:
            self.visit(condition, scope)

    def _from_item(self, item: Any, scope: _Scope, conditions: list[Any]) -> None:
        if isinstance(item, ast.RangeVar):
            self._table(item, scope)
        elif isinstance(item, ast.JoinExpr):
            self._from_item(item.larg, scope, conditions)
            self._from_item(item.rarg, scope, conditions)
            conditions.append(item.quals)
            for name in item.usingClause or ():
                conditions.append(ast.ColumnRef(fields=(name,)))
        elif isinstance(item, ast.RangeSubselect):
            self.visit(item.subquery, scope)
            scope.entries.append(((item.alias.aliasname if item.alias else "") or "", None))
        elif isinstance(item, ast.RangeFunction):
            self.visit(item.functions, scope)
            scope.entries.append(((item.alias.aliasname if item.alias else "") or "", None))
        else:
            self.visit(item, scope)

    # statements ------------------------------------------------------------------

    def _select(self, node: ast.SelectStmt, parent: _Scope | None) -> None:
        scope = self._level(parent, node.withClause)
        if node.op != SetOperation.SETOP_NONE:
            self.visit(node.larg, scope)
            self.visit(node.rarg, scope)
            return
        self._from(node.fromClause, scope)
        self._children(node, scope, skip=("withClause", "fromClause", "larg", "rarg"))

    def _insert(self, node: ast.InsertStmt, parent: _Scope | None) -> None:
        scope = self._level(parent, node.withClause)
        table = self._table(node.relation, scope)
        if table is None:
            return
        self.written.add(table)
        columns = tuple(target.name for target in node.cols or ()) or None
        self.inserts.append((table, columns))
        for column in columns or (None,):
            self.columns.append(ColumnUse(((table,),), column, writes=True))
        self.visit(node.selectStmt, _Scope(parent, ctes=set(scope.ctes)))
        conflict = node.onConflictClause
        if conflict is not None:
            scope.entries.append(("excluded", table))
            self._writes(conflict.targetList, table, scope)
            self.visit((conflict.infer, conflict.whereClause), scope)
        self.visit(node.returningClause, scope)

    def _update(self, node: ast.UpdateStmt, parent: _Scope | None) -> None:
        scope = self._level(parent, node.withClause)
        table = self._table(node.relation, scope)
        self._from(node.fromClause, scope)
        if table is not None:
            self.written.add(table)
            self._writes(node.targetList, table, scope)
        self.visit((node.whereClause, node.returningClause), scope)

    def _delete(self, node: ast.DeleteStmt, parent: _Scope | None) -> None:
        scope = self._level(parent, node.withClause)
        table = self._table(node.relation, scope)
        self._from(node.usingClause, scope)
        if table is not None:
            self.written.add(table)
        self.visit((node.whereClause, node.returningClause), scope)

    def _merge(self, node: ast.MergeStmt, parent: _Scope | None) -> None:
        scope = self._level(parent, node.withClause)
        table = self._table(node.relation, scope)
        self._from((node.sourceRelation,), scope)
        self.visit(node.joinCondition, scope)
        for clause in node.mergeWhenClauses or ():
            if table is not None:
                self.written.add(table)
                self._writes(clause.targetList, table, scope)
            self.visit((clause.condition, clause.values), scope)
        self.visit(node.returningClause, scope)

    def _writes(self, targets: Any, table: SqlName, scope: _Scope) -> None:
        """``SET column = value`` items: the column written, the value read."""
        for target in targets or ():
            if target.name:
                self.columns.append(ColumnUse(((table,),), target.name, writes=True))
            self.visit(target.val, scope)

    # expressions -------------------------------------------------------------------

    def _column(self, node: ast.ColumnRef, scope: _Scope | None) -> None:
        if scope is None:
            return
        fields = node.fields or ()
        star = bool(fields) and isinstance(fields[-1], ast.A_Star)
        names = [f.sval or "" for f in fields if isinstance(f, ast.String)]
        column = None if star else (names.pop() if names else None)
        if column is None and not star:
            return
        if not names:  # `col` or `*`
            levels = scope.levels()
            if star and levels:
                self.columns += [ColumnUse(((table,),), None) for table in levels[0]]
            elif levels:
                self.columns.append(ColumnUse(levels, column))
            return
        found, table = scope.lookup(names[-1]) if len(names) == 1 else (False, None)
        if len(names) > 1:  # schema.table.col (a database name in front is ignored)
            table, found = SqlName(names[-2], names[-1]), True
        if found and table is not None:
            self.columns.append(ColumnUse(((table,),), column))

    def _function(self, node: ast.FuncCall, scope: _Scope | None) -> None:
        self.functions.add(SqlName.of_parts(node.funcname))
        self._children(node, scope, skip=("funcname",))


_HANDLERS: dict[type, Any] = {
    ast.SelectStmt: _Walker._select,
    ast.InsertStmt: _Walker._insert,
    ast.UpdateStmt: _Walker._update,
    ast.DeleteStmt: _Walker._delete,
    ast.MergeStmt: _Walker._merge,
    ast.ColumnRef: _Walker._column,
    ast.FuncCall: _Walker._function,
}
