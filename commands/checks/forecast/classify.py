"""Each statement of a plan: the table locks it takes and its work, in plan order.

The lock levels are the documentation's: chapter 13.3 (Explicit Locking)
names the commands that take each mode, and each command's page the
exceptions (``ALTER TABLE`` in ``alter_table.py``). ``classify_plan`` walks the
statements in order so that each finds the schema the earlier ones leave (a
constraint added NOT VALID, then validated; a column added, then altered).
A table the plan creates is empty when it runs, which its size says (it does
not exist yet when the pre-flight looks). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pglast import ast
from pglast.enums import ObjectType, ReindexObjectType

from commands.checks.forecast.alter_table import classify_alter_table
from commands.checks.forecast.classes import Classified, TableLock, Work, WorkKind
from commands.checks.forecast.facts import SchemaFacts
from commands.checks.forecast.locks import LockMode
from commands.checks.forecast.names import dotted, function_name, last_name, table_name
from commands.checks.forecast.type_names import ColumnType
from commands.checks.sql_statements import Statement, walk

AS, RS, RE = LockMode.ACCESS_SHARE, LockMode.ROW_SHARE, LockMode.ROW_EXCLUSIVE
SUE, SHARE, SRE = LockMode.SHARE_UPDATE_EXCLUSIVE, LockMode.SHARE, LockMode.SHARE_ROW_EXCLUSIVE
EXCLUSIVE, AE = LockMode.EXCLUSIVE, LockMode.ACCESS_EXCLUSIVE
LIGHTER_INDEX_RENAME_SINCE = 12
HARMLESS_CALLS = frozenset({"setval", "nextval", "set_config", "pg_advisory_xact_lock"})
"""Volatile functions a migration's SELECT calls that touch no table."""
RELATIONS = (
    ObjectType.OBJECT_TABLE,
    ObjectType.OBJECT_VIEW,
    ObjectType.OBJECT_MATVIEW,
    ObjectType.OBJECT_SEQUENCE,
    ObjectType.OBJECT_FOREIGN_TABLE,
)


def classify_plan(statements: Iterable[Statement], facts: SchemaFacts) -> list[Classified]:
    """Every statement classified in order; ``facts`` learns what each one changes."""
    return [classify(statement, facts) for statement in statements]


def classify(statement: Statement, facts: SchemaFacts) -> Classified:
    """One statement's locks and work, on the schema ``facts`` describes."""
    node = statement.node
    if node is None:
        return Classified((), (), "the parser cannot read this statement", opaque=True)
    handler = _HANDLERS.get(type(node))
    if handler is None:
        return Classified((), (), "no table lock")
    return handler(node, facts)


def _index(node: ast.IndexStmt, facts: SchemaFacts) -> Classified:
    """CREATE INDEX: SHARE ("acquired by CREATE INDEX (without CONCURRENTLY)"); CONCURRENTLY
    SHARE UPDATE EXCLUSIVE. Either reads and sorts every row."""
    table = table_name(node.relation)
    if node.idxname:
        facts.index_tables[node.idxname] = table
    concurrent = bool(node.concurrent)
    kind = WorkKind.INDEX_CONCURRENT if concurrent else WorkKind.INDEX
    work = (Work(kind, table),)
    how = (
        "CONCURRENTLY: writes go on, the build waits for older transactions"
        if concurrent
        else ("without CONCURRENTLY: writes wait for the whole build")
    )
    return Classified((TableLock(table, SUE if concurrent else SHARE),), work, how)


def _create_table(node: ast.CreateStmt, facts: SchemaFacts) -> Classified:
    """CREATE TABLE: a new, empty table; a foreign key locks the table it references (SHARE ROW
    EXCLUSIVE, as ADD FOREIGN KEY does); PARTITION OF and INHERITS lock the parent."""
    table = table_name(node.relation)
    locks: list[TableLock] = []
    for element in node.tableElts or ():
        if isinstance(element, ast.ColumnDef):
            facts.add_column(table, element.colname or "", ColumnType.from_sql(element.typeName))
    for constraint in walk(node.tableElts):
        if isinstance(constraint, ast.Constraint) and constraint.pktable is not None:
            locks.append(TableLock(table_name(constraint.pktable), SRE))
    for parent in node.inhRelations or ():
        mode = AE if node.partbound is not None else SUE
        locks.append(TableLock(table_name(parent), mode))
    return Classified(tuple(dict.fromkeys(locks)), (), "a new table: catalog-only")


def _create_table_as(node: ast.CreateTableAsStmt, facts: SchemaFacts) -> Classified:
    """CREATE TABLE … AS / SELECT INTO / CREATE MATERIALIZED VIEW: reads its sources."""
    sources = _read_tables(node.query)
    skipped = node.into is not None and node.into.skipData  # WITH NO DATA
    work = () if skipped else tuple(Work(WorkKind.INSERT, t) for t in sources)
    return Classified(tuple(TableLock(t, AS) for t in sources), work, "writes what it reads")


def _drop(node: ast.DropStmt, facts: SchemaFacts) -> Classified:
    """DROP TABLE / VIEW …: ACCESS EXCLUSIVE ("acquired by DROP TABLE"); DROP INDEX: ACCESS
    EXCLUSIVE on its table, SHARE UPDATE EXCLUSIVE with CONCURRENTLY; DROP TRIGGER: ACCESS
    EXCLUSIVE on its table. Catalog-only: the files go at commit."""
    kind = node.removeType
    if kind == ObjectType.OBJECT_INDEX:
        mode = SUE if node.concurrent else AE
        tables = [
            facts.index_tables.get(dotted(o), f"the table of {dotted(o)}")
            for o in node.objects or ()
        ]
        return Classified(tuple(TableLock(t, mode) for t in tables), (), "DROP INDEX")
    if kind in (ObjectType.OBJECT_TRIGGER, ObjectType.OBJECT_RULE, ObjectType.OBJECT_POLICY):
        tables = [dotted(o[:-1]) for o in node.objects or ()]
        return Classified(tuple(TableLock(t, AE) for t in tables), (), f"DROP {kind.name[7:]}")
    if kind in RELATIONS:
        dropped = [dotted(o) for o in node.objects or ()]
        referenced = [t for name in dropped for t in facts.foreign_tables(name)]
        locks = [TableLock(t, AE) for t in dict.fromkeys(dropped + referenced)]
        return Classified(tuple(locks), (), "catalog-only: the files go at commit")
    return Classified((), (), "no table lock")


def _truncate(node: ast.TruncateStmt, facts: SchemaFacts) -> Classified:
    """TRUNCATE: ACCESS EXCLUSIVE; new empty files, no row is read."""
    locks = tuple(TableLock(table_name(r), AE) for r in node.relations or ())
    return Classified(locks, (), "catalog-only")


def _rename(node: ast.RenameStmt, facts: SchemaFacts) -> Classified:
    """RENAME: ACCESS EXCLUSIVE on the table; ALTER INDEX … RENAME: SHARE UPDATE EXCLUSIVE on
    the index (PostgreSQL 12+). "There is no effect on the stored data." """
    if node.relation is None:
        return Classified((), (), "no table lock")
    light = node.renameType == ObjectType.OBJECT_INDEX and (
        facts.server_major >= LIGHTER_INDEX_RENAME_SINCE
    )
    lock = TableLock(table_name(node.relation), SUE if light else AE)
    return Classified((lock,), (), "catalog-only")


def _set_schema(node: ast.AlterObjectSchemaStmt, facts: SchemaFacts) -> Classified:
    if node.relation is None:
        return Classified((), (), "no table lock")
    return Classified((TableLock(table_name(node.relation), AE),), (), "catalog-only")


def _trigger(node: ast.CreateTrigStmt, facts: SchemaFacts) -> Classified:
    """SHARE ROW EXCLUSIVE: "acquired by CREATE TRIGGER"."""
    return Classified((TableLock(table_name(node.relation), SRE),), (), "catalog-only")


def _comment(node: ast.CommentStmt, facts: SchemaFacts) -> Classified:
    """COMMENT ON a table or column: SHARE UPDATE EXCLUSIVE ("acquired by … COMMENT ON")."""
    parts = node.object if isinstance(node.object, tuple) else ()
    if node.objtype == ObjectType.OBJECT_COLUMN:
        return Classified((TableLock(dotted(parts[:-1]), SUE),), (), "catalog-only")
    if node.objtype in RELATIONS:
        return Classified((TableLock(dotted(parts), SUE),), (), "catalog-only")
    return Classified((), (), "no table lock")


def _lock(node: ast.LockStmt, facts: SchemaFacts) -> Classified:
    """LOCK TABLE … IN mode MODE (ACCESS EXCLUSIVE when no mode is given)."""
    mode = list(LockMode)[(node.mode or len(LockMode)) - 1]
    tables = tuple(TableLock(table_name(r), mode) for r in node.relations or ())
    return Classified(tables, (), "explicit")


def _reindex(node: ast.ReindexStmt, facts: SchemaFacts) -> Classified:
    """REINDEX: SHARE on the table (ACCESS EXCLUSIVE on the index); CONCURRENTLY: SHARE UPDATE
    EXCLUSIVE. Builds each index again."""
    if node.relation is None:
        return Classified((), (), "REINDEX of a schema or database", opaque=True)
    concurrent = any(option.defname == "concurrently" for option in node.params or ())
    table = table_name(node.relation)
    if node.kind == ReindexObjectType.REINDEX_OBJECT_INDEX:  # its table
        table = facts.index_tables.get(table, f"the table of {table}")
    kind = WorkKind.INDEX_CONCURRENT if concurrent else WorkKind.INDEX
    return Classified((TableLock(table, SUE if concurrent else SHARE),), (Work(kind, table),))


def _vacuum(node: ast.VacuumStmt, facts: SchemaFacts) -> Classified:
    """VACUUM and ANALYZE: SHARE UPDATE EXCLUSIVE; VACUUM FULL: ACCESS EXCLUSIVE, a rewrite."""
    full = any(option.defname == "full" for option in node.options or ())
    tables = [table_name(rel.relation) for rel in node.rels or () if rel.relation is not None]
    if full and node.is_vacuumcmd:
        work = tuple(Work(WorkKind.REWRITE, t) for t in tables)
        return Classified(tuple(TableLock(t, AE) for t in tables), work, "VACUUM FULL rewrites")
    if node.is_vacuumcmd:
        work = tuple(Work(WorkKind.SCAN, t) for t in tables)
        return Classified(tuple(TableLock(t, SUE) for t in tables), work, "VACUUM reads the table")
    return Classified(tuple(TableLock(t, SUE) for t in tables), (), "ANALYZE reads a sample")


def _cluster(node: ast.ClusterStmt, facts: SchemaFacts) -> Classified:
    """CLUSTER: ACCESS EXCLUSIVE, the table rewritten in index order."""
    if node.relation is None:
        return Classified((), (), "CLUSTER of every clustered table", opaque=True)
    table = table_name(node.relation)
    return Classified((TableLock(table, AE),), (Work(WorkKind.REWRITE, table),), "rewrites")


def _refresh(node: ast.RefreshMatViewStmt, facts: SchemaFacts) -> Classified:
    """REFRESH MATERIALIZED VIEW: ACCESS EXCLUSIVE; CONCURRENTLY: EXCLUSIVE (reads go on)."""
    view = table_name(node.relation)
    mode = EXCLUSIVE if node.concurrent else AE
    return Classified((TableLock(view, mode),), (Work(WorkKind.INSERT, view),), "runs its query")


def _update(node: ast.UpdateStmt, facts: SchemaFacts) -> Classified:
    """UPDATE: ROW EXCLUSIVE on its table (and row locks on the rows it changes, to commit)."""
    return _data(node, WorkKind.UPDATE)


def _delete(node: ast.DeleteStmt, facts: SchemaFacts) -> Classified:
    return _data(node, WorkKind.DELETE)


def _data(node: Any, kind: WorkKind) -> Classified:
    table = table_name(node.relation)
    others = [t for t in _read_tables(node) if t != table]
    limit = _row_limit(node.whereClause)
    work = Work(kind, table, partial=node.whereClause is not None, row_limit=limit)
    locks = (TableLock(table, RE), *(TableLock(t, AS) for t in others))
    reason = (
        "every row"
        if node.whereClause is None
        else (
            f"at most {limit} rows" if limit is not None else "the rows its WHERE picks (up to all)"
        )
    )
    return Classified(locks, (work,), f"{kind.value}s {reason}; the rows stay locked to commit")


def _insert(node: ast.InsertStmt, facts: SchemaFacts) -> Classified:
    """INSERT: ROW EXCLUSIVE on its table; INSERT … SELECT reads its sources."""
    table = table_name(node.relation)
    sources = [t for t in _read_tables(node.selectStmt) if t != table]
    work = tuple(Work(WorkKind.INSERT, t) for t in sources)
    locks = (TableLock(table, RE), *(TableLock(t, AS) for t in sources))
    return Classified(locks, work, "inserts what it reads" if sources else "inserts rows")


def _select(node: ast.SelectStmt, facts: SchemaFacts) -> Classified:
    """SELECT: ACCESS SHARE on what it reads (ROW SHARE with FOR UPDATE/SHARE); a call to a
    function of the project may do anything."""
    tables = _read_tables(node)
    mode = RS if node.lockingClause else AS
    calls = {function_name(n) for n in walk(node) if isinstance(n, ast.FuncCall)}
    unknown = sorted(
        name
        for name in calls - HARMLESS_CALLS
        if facts.volatility.get(name) not in ("i", "s")  # volatile or not in the catalog
    )
    work = tuple(Work(WorkKind.SCAN, t, partial=True) for t in tables)
    if unknown:
        return Classified(
            tuple(TableLock(t, mode) for t in tables),
            work,
            f"calls {', '.join(unknown)}()",
            opaque=True,
        )
    return Classified(tuple(TableLock(t, mode) for t in tables), work, "reads")


def _statistics(node: ast.CreateStatsStmt, facts: SchemaFacts) -> Classified:
    """CREATE STATISTICS: SHARE UPDATE EXCLUSIVE ("acquired by … CREATE STATISTICS")."""
    tables = _read_tables(node.relations)
    return Classified(tuple(TableLock(t, SUE) for t in tables), (), "catalog-only")


def _policy(node: ast.CreatePolicyStmt | ast.AlterPolicyStmt, facts: SchemaFacts) -> Classified:
    """CREATE/ALTER POLICY: ACCESS EXCLUSIVE on the table (every query on it changes)."""
    return Classified((TableLock(table_name(node.table), AE),), (), "catalog-only")


def _rule(node: ast.RuleStmt, facts: SchemaFacts) -> Classified:
    """CREATE RULE: ACCESS EXCLUSIVE on the table (every query on it is rewritten)."""
    return Classified((TableLock(table_name(node.relation), AE),), (), "catalog-only")


def _view(node: ast.ViewStmt, facts: SchemaFacts) -> Classified:
    """CREATE VIEW: ACCESS SHARE on what its query reads."""
    tables = [t for t in _read_tables(node.query) if t != table_name(node.view)]
    return Classified(tuple(TableLock(t, AS) for t in tables), (), "catalog-only")


def _grant(node: ast.GrantStmt, facts: SchemaFacts) -> Classified:
    """GRANT/REVOKE on a table: ACCESS SHARE."""
    if node.objtype != ObjectType.OBJECT_TABLE:
        return Classified((), (), "no table lock")
    return Classified(tuple(TableLock(t, AS) for t in _read_tables(node.objects)), (), "catalog")


def _create_function(node: ast.CreateFunctionStmt, facts: SchemaFacts) -> Classified:
    """A function the plan creates: its volatility, for a DEFAULT that calls it later."""
    volatility = "v"
    for option in node.options or ():
        if option.defname == "volatility":
            volatility = (option.arg.sval or "v")[0]
    facts.volatility[last_name(node.funcname)] = volatility
    return Classified((), (), "no table lock")


def _opaque(node: Any, facts: SchemaFacts) -> Classified:
    """DO and CALL run code the parser cannot see into."""
    return Classified((), (), "runs code", opaque=True)


def _read_tables(node: Any) -> list[str]:
    return list(dict.fromkeys(table_name(n) for n in walk(node) if isinstance(n, ast.RangeVar)))


def _row_limit(where: Any) -> int | None:
    """A ``LIMIT n`` in a sub-select of the WHERE clause: the rows touched at most."""
    for node in walk(where):
        if isinstance(node, ast.SelectStmt) and isinstance(node.limitCount, ast.A_Const):
            value = getattr(node.limitCount.val, "ival", None)
            if value is not None:
                return int(value)
    return None


_HANDLERS: dict[type, Callable[[Any, SchemaFacts], Classified]] = {
    ast.AlterTableStmt: classify_alter_table,
    ast.IndexStmt: _index,
    ast.CreateStmt: _create_table,
    ast.CreateTableAsStmt: _create_table_as,
    ast.DropStmt: _drop,
    ast.TruncateStmt: _truncate,
    ast.RenameStmt: _rename,
    ast.AlterObjectSchemaStmt: _set_schema,
    ast.CreateTrigStmt: _trigger,
    ast.CommentStmt: _comment,
    ast.LockStmt: _lock,
    ast.ReindexStmt: _reindex,
    ast.VacuumStmt: _vacuum,
    ast.ClusterStmt: _cluster,
    ast.RefreshMatViewStmt: _refresh,
    ast.UpdateStmt: _update,
    ast.DeleteStmt: _delete,
    ast.InsertStmt: _insert,
    ast.SelectStmt: _select,
    ast.CreateFunctionStmt: _create_function,
    ast.CreateStatsStmt: _statistics,
    ast.CreatePolicyStmt: _policy,
    ast.AlterPolicyStmt: _policy,
    ast.RuleStmt: _rule,
    ast.ViewStmt: _view,
    ast.GrantStmt: _grant,
    ast.DoStmt: _opaque,
    ast.CallStmt: _opaque,
}
