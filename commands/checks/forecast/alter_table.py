"""``ALTER TABLE``: the lock of each subcommand and its work, as its documentation states.

"An ACCESS EXCLUSIVE lock is acquired unless explicitly noted. When multiple
subcommands are given, the lock acquired will be the strictest one required
by any subcommand." The noted exceptions (SHARE UPDATE EXCLUSIVE for SET
STATISTICS, per-attribute options, CLUSTER ON, some storage parameters,
VALIDATE CONSTRAINT and ATTACH PARTITION's parent; SHARE ROW EXCLUSIVE for
ADD FOREIGN KEY, on both tables, and for the trigger switches) and what
scans or rewrites are in ``SUBCOMMAND_LOCKS`` and the functions below.
Several subcommands make one pass over the table, so a rewrite absorbs the
scans of the same statement. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType as At
from pglast.enums import ConstrType, NullTestType

from commands.checks.forecast.classes import Classified, TableLock, Work, WorkKind
from commands.checks.forecast.column_adds import column_add
from commands.checks.forecast.facts import ConstraintFacts, SchemaFacts
from commands.checks.forecast.locks import LockMode
from commands.checks.forecast.names import last_name, table_name
from commands.checks.forecast.type_names import ColumnType, type_change_rewrites

AE, SRE = LockMode.ACCESS_EXCLUSIVE, LockMode.SHARE_ROW_EXCLUSIVE
SUE = LockMode.SHARE_UPDATE_EXCLUSIVE
SUBCOMMAND_LOCKS: dict[At, LockMode] = {
    At.AT_SetStatistics: SUE,
    At.AT_SetOptions: SUE,
    At.AT_ResetOptions: SUE,
    At.AT_ClusterOn: SUE,
    At.AT_DropCluster: SUE,
    At.AT_ValidateConstraint: SUE,
    At.AT_EnableTrig: SRE,
    At.AT_EnableAlwaysTrig: SRE,
    At.AT_EnableReplicaTrig: SRE,
    At.AT_EnableTrigAll: SRE,
    At.AT_EnableTrigUser: SRE,
    At.AT_DisableTrig: SRE,
    At.AT_DisableTrigAll: SRE,
    At.AT_DisableTrigUser: SRE,
}
"""Subcommands documented below ACCESS EXCLUSIVE (the others, and any not listed, take it)."""
REWRITING = frozenset(
    {
        At.AT_SetLogged,
        At.AT_SetUnLogged,
        At.AT_SetAccessMethod,
        At.AT_SetTableSpace,
        At.AT_SetExpression,
    }
)
"""Forms that write the table anew whatever their arguments."""
# Storage parameters documented to take SHARE UPDATE EXCLUSIVE (the others take ACCESS EXCLUSIVE)
LIGHT_STORAGE_PARAMETERS = (
    "fillfactor",
    "parallel_workers",
    "toast_tuple_target",
    "autovacuum_",
    "vacuum_",
    "log_autovacuum_",
)
NOT_NULL_SCAN_SKIPPED_SINCE = 12
LIGHTER_ATTACH_SINCE = 12
DETACH_CONCURRENTLY_SINCE = 14


@dataclass(frozen=True)
class Part:
    """One subcommand's contribution."""

    mode: LockMode
    work: tuple[Work, ...] = ()
    reason: str = ""
    other_locks: tuple[TableLock, ...] = ()


def classify_alter_table(node: ast.AlterTableStmt, facts: SchemaFacts) -> Classified:
    """The locks and work of ``ALTER TABLE name subcommand, …`` (the facts learn from it)."""
    table = table_name(node.relation)
    parts = [_part(cmd, table, facts) for cmd in node.cmds or ()]
    mode = max((p.mode for p in parts), key=lambda m: m.strength)
    locks = [TableLock(table, mode)]
    for part in parts:
        locks += [lock for lock in part.other_locks if lock not in locks]
    work = [w for p in parts for w in p.work]
    rewritten = {w.table for w in work if w.kind is WorkKind.REWRITE}
    work = [w for w in work if not (w.kind is WorkKind.SCAN and w.table in rewritten)]
    reasons = "; ".join(p.reason for p in parts if p.reason) or "changes the catalog only"
    return Classified(tuple(locks), tuple(dict.fromkeys(work)), reasons)


def _part(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    if cmd.subtype is None:  # the grammar always names the subcommand
        return Part(AE)
    handler = _HANDLERS.get(cmd.subtype)
    if handler is not None:
        return handler(cmd, table, facts)
    mode = SUBCOMMAND_LOCKS.get(cmd.subtype, AE)
    if cmd.subtype in REWRITING:
        return Part(mode, (Work(WorkKind.REWRITE, table),), f"{_form(cmd)} rewrites the table")
    return Part(mode)


def _form(cmd: ast.AlterTableCmd) -> str:
    return At(cmd.subtype).name.removeprefix("AT_") if cmd.subtype is not None else "ALTER"


def _add_column(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    column = cmd.def_
    assert isinstance(column, ast.ColumnDef), "ADD COLUMN always defines one"
    added = column_add(column, facts)
    facts.add_column(table, column.colname or "", ColumnType.from_sql(column.typeName))
    referenced = tuple(TableLock(table_name(ref), SRE) for ref in added.references)
    return Part(AE, tuple(Work(kind, table) for kind in added.work), added.reason, referenced)


def _alter_type(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    column, name = cmd.def_, cmd.name or ""
    assert isinstance(column, ast.ColumnDef), "ALTER COLUMN … TYPE always defines the new type"
    new = ColumnType.from_sql(column.typeName)
    rewrites, why = type_change_rewrites(
        facts.column_type(table, name),
        new,
        using=column.raw_default,
        column=name,
        utc_session=facts.utc_session,
    )
    facts.add_column(table, name, new)
    work = (Work(WorkKind.REWRITE, table),) if rewrites else ()
    return Part(AE, work, f"{name} TYPE: {why}")


def _set_not_null(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    skipped = facts.server_major >= NOT_NULL_SCAN_SKIPPED_SINCE and facts.proven_not_null(
        table, cmd.name or ""
    )
    if skipped:
        return Part(AE, (), f"SET NOT NULL {cmd.name}: a valid CHECK proves it, no scan")
    return Part(AE, (Work(WorkKind.SCAN, table),), f"SET NOT NULL {cmd.name} scans every row")


def _add_constraint(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    constraint = cmd.def_
    assert isinstance(constraint, ast.Constraint), "ADD CONSTRAINT always defines one"
    kind = constraint.contype
    unchecked = bool(constraint.skip_validation)  # NOT VALID
    if kind == ConstrType.CONSTR_FOREIGN:
        referenced = table_name(constraint.pktable)
        facts.add_constraint(table, constraint.conname or "", ConstraintFacts(referenced))
        work = () if unchecked else (Work(WorkKind.FK_CHECK, table),)
        verdict = "NOT VALID: no check now" if unchecked else "checks every row"
        return Part(SRE, work, f"ADD FOREIGN KEY {verdict}", (TableLock(referenced, SRE),))
    if kind in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_EXCLUSION):
        if constraint.indexname:
            return Part(AE, (), f"ADD … USING INDEX {constraint.indexname}: the index exists")
        return Part(AE, (Work(WorkKind.INDEX, table),), "ADD PRIMARY KEY/UNIQUE builds an index")
    column = _not_null_column(constraint)
    facts.add_constraint(table, constraint.conname or "", ConstraintFacts(None, column))
    if unchecked:
        return Part(AE, (), "ADD CONSTRAINT … NOT VALID: no scan now")
    if column is not None:
        facts.prove_not_null(table, column)
    return Part(AE, (Work(WorkKind.SCAN, table),), "ADD CONSTRAINT checks every row")


def _validate(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    known = facts.constraint(table, cmd.name or "")
    if known is not None and known.foreign_table is not None:
        referenced = (TableLock(known.foreign_table, LockMode.ROW_SHARE),)
        return Part(SUE, (Work(WorkKind.FK_CHECK, table),), "VALIDATE checks every row", referenced)
    if known is not None and known.not_null_column is not None:
        facts.prove_not_null(table, known.not_null_column)
    reason = "VALIDATE scans every row" if known else "VALIDATE scans every row (a CHECK assumed)"
    return Part(SUE, (Work(WorkKind.SCAN, table),), reason)


def _drop_constraint(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    """A foreign key's triggers on the referenced table go too: ACCESS EXCLUSIVE there."""
    known = facts.constraint(table, cmd.name or "")
    if known is not None and known.foreign_table is not None:
        return Part(AE, (), "DROP FOREIGN KEY", (TableLock(known.foreign_table, AE),))
    return Part(AE)


def _storage_parameters(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    items = [item for item in cmd.def_ or () if isinstance(item, ast.DefElem)]
    names = [item.defname or "" for item in items]
    light = all(
        item.defnamespace == "toast" or (item.defname or "").startswith(LIGHT_STORAGE_PARAMETERS)
        for item in items
    )
    return Part(SUE if light else AE, (), f"SET ({', '.join(names)}) changes no row")


def _attach(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    command = cmd.def_
    assert isinstance(command, ast.PartitionCmd), "ATTACH PARTITION always names one"
    partition = table_name(command.name)
    mode = SUE if facts.server_major >= LIGHTER_ATTACH_SINCE else AE
    scan = (Work(WorkKind.SCAN, partition),)
    reason = f"ATTACH PARTITION scans {partition} against the partition bound"
    return Part(mode, scan, reason, (TableLock(partition, AE),))


def _detach(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    command = cmd.def_
    assert isinstance(command, ast.PartitionCmd), "DETACH PARTITION always names one"
    partition = table_name(command.name)
    concurrently = bool(command.concurrent) and facts.server_major >= DETACH_CONCURRENTLY_SINCE
    if cmd.subtype == At.AT_DetachPartitionFinalize or concurrently:
        return Part(
            SUE,
            (),
            "DETACH … CONCURRENTLY waits for older transactions",
            (TableLock(partition, AE),),
        )
    return Part(AE, (), "DETACH PARTITION", (TableLock(partition, AE),))


def _inherit(cmd: ast.AlterTableCmd, table: str, facts: SchemaFacts) -> Part:
    """INHERIT: the new parent is locked SHARE UPDATE EXCLUSIVE (its children change)."""
    parent = cmd.def_ if isinstance(cmd.def_, ast.RangeVar) else None
    return Part(AE, (), "INHERIT", (TableLock(table_name(parent), SUE),))


def _not_null_column(constraint: ast.Constraint) -> str | None:
    """The column a ``CHECK (col IS NOT NULL)`` or ``NOT NULL col`` constraint is about."""
    if constraint.contype == ConstrType.CONSTR_NOTNULL and constraint.keys:
        return last_name(constraint.keys[:1]) or None
    expression = constraint.raw_expr
    if isinstance(expression, ast.NullTest) and expression.nulltesttype == NullTestType.IS_NOT_NULL:
        argument = expression.arg
        if isinstance(argument, ast.ColumnRef):
            return last_name(argument.fields) or None
    return None


_HANDLERS: dict[At, Callable[[Any, str, SchemaFacts], Part]] = {
    At.AT_AddColumn: _add_column,
    At.AT_AlterColumnType: _alter_type,
    At.AT_SetNotNull: _set_not_null,
    At.AT_AddConstraint: _add_constraint,
    At.AT_ValidateConstraint: _validate,
    At.AT_DropConstraint: _drop_constraint,
    At.AT_SetRelOptions: _storage_parameters,
    At.AT_ResetRelOptions: _storage_parameters,
    At.AT_AttachPartition: _attach,
    At.AT_AddInherit: _inherit,
    At.AT_DetachPartition: _detach,
    At.AT_DetachPartitionFinalize: _detach,
}
