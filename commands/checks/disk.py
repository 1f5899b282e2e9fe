"""The ``disk`` check: database size, the extra space the migration needs, the room there is.

The runbook's rules of thumb: an index is about the size of its table, and a
statement that rewrites a table needs about 1.5 times the table while the old
and new copies coexist. Free space is measured on the data directory's volume
when the server runs on this machine, and capped by ``checks.disk_headroom``
when the operator has said how much room there is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from pglast import ast
from pglast.enums import AlterTableType, ConstrType

from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Verdict
from commands.checks.sql_statements import Statement
from commands.units import format_bytes

REWRITE_FACTOR = 1.5
_REWRITING_COMMANDS = frozenset(
    {
        AlterTableType.AT_AlterColumnType,
        AlterTableType.AT_SetTableSpace,
        AlterTableType.AT_SetLogged,
        AlterTableType.AT_SetUnLogged,
    }
)


@dataclass(frozen=True)
class SpaceNeed:
    revision: str
    statement: int
    kind: str  # "index" | "rewrite"
    table: str
    bytes: int


def space_needs(context: PreflightContext) -> Iterator[SpaceNeed]:
    """Each pending statement that builds an index or rewrites a table, with its estimate."""
    for revision in context.plan.revisions:
        for statement in context.statements.get(revision.id, []):
            kind = _kind(statement)
            size = context.table_sizes.get(statement.table or "")
            if kind is None or size is None or not size.exists:
                continue  # a table created by this migration is empty when indexed
            estimate = (
                size.heap_bytes if kind == "index" else int(size.total_bytes * REWRITE_FACTOR)
            )
            yield SpaceNeed(revision.id, statement.number, kind, size.name, estimate)


def _kind(statement: Statement) -> str | None:
    node = statement.node
    if isinstance(node, ast.IndexStmt):
        return "index"
    if isinstance(node, ast.ClusterStmt):
        return "rewrite"
    if isinstance(node, ast.VacuumStmt) and any(
        option.defname == "full" for option in node.options or ()
    ):
        return "rewrite"
    if isinstance(node, ast.AlterTableStmt):
        return _alter_kind(node)
    return None


def _alter_kind(node: ast.AlterTableStmt) -> str | None:
    kind = None
    for command in node.cmds or ():
        if command.subtype in _REWRITING_COMMANDS or _volatile_default(command):
            return "rewrite"
        constraint = command.def_
        if (
            command.subtype == AlterTableType.AT_AddConstraint
            and isinstance(constraint, ast.Constraint)
            and constraint.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE)
            and not constraint.indexname
        ):
            kind = "index"
    return kind


def _volatile_default(command: ast.AlterTableCmd) -> bool:
    """ADD COLUMN with a function call as default may rewrite (constants never do, PG 11+)."""
    column = command.def_
    if command.subtype != AlterTableType.AT_AddColumn or not isinstance(column, ast.ColumnDef):
        return False
    return any(
        isinstance(c, ast.Constraint)
        and c.contype == ConstrType.CONSTR_DEFAULT
        and isinstance(c.raw_expr, ast.FuncCall)
        for c in column.constraints or ()
    )


def free_space(conn: psycopg.Connection) -> int | None:
    """Bytes free on the data directory's volume, when the server's files are on this machine."""
    try:
        row = conn.execute("SHOW data_directory").fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return None
    data_dir = Path(row[0]) if row else None
    if data_dir is None or not (data_dir / "PG_VERSION").exists():
        return None
    stats = os.statvfs(data_dir)
    return stats.f_bavail * stats.f_frsize


def check_disk(context: PreflightContext) -> CheckResult:
    row = context.conn.execute("SELECT pg_database_size(current_database())").fetchone()
    database = int(row[0]) if row else 0
    needs = list(space_needs(context))
    extra = sum(n.bytes for n in needs)
    measured = free_space(context.conn)
    headroom = context.settings.disk_headroom
    known = [v for v in (measured, headroom) if v is not None]
    available = min(known) if known else None
    data: dict[str, Any] = {
        "database_bytes": database,
        "extra_bytes": extra,
        "free_bytes": measured,
        "headroom_bytes": headroom,
        "needs": [n.__dict__ for n in needs],
    }
    details = tuple(
        f"{n.revision} #{n.statement}: {n.kind} on {n.table} ≈ {format_bytes(n.bytes)}"
        + (" (1.5 times the table)" if n.kind == "rewrite" else " (≈ the table)")
        for n in needs
    )
    head = f"database {format_bytes(database)}; migration needs ≈ {format_bytes(extra)} more"
    if available is None:
        return CheckResult(
            "disk",
            Verdict.PASS,
            f"{head}; free space unknown (set checks.disk_headroom)",
            details,
            data,
        )
    where = "free" if available == measured else "headroom (checks.disk_headroom)"
    summary = f"{head}; {format_bytes(available)} {where}"
    if extra > available:
        return CheckResult("disk", Verdict.FAIL, f"{summary}: not enough room", details, data)
    if extra > available / 2:
        return CheckResult("disk", Verdict.WARN, f"{summary}: over half of it", details, data)
    return CheckResult("disk", Verdict.PASS, summary, details, data)
