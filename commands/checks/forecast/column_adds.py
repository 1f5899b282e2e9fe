"""What ``ADD COLUMN`` costs: catalog-only, a scan, an index build or a rewrite.

ALTER TABLE's notes: "When a column is added with ADD COLUMN and a
non-volatile DEFAULT is specified, the default is evaluated at the time of
the statement and the result stored in the table's metadata … In neither
case is a rewrite of the table required. Adding a column with a volatile
DEFAULT … will require the entire table and its indexes to be rewritten."
That holds from PostgreSQL 11; before it, any DEFAULT rewrote. A serial or
identity column fills every row from a sequence (volatile), a stored
generated column computes every row; a virtual one (the default from
PostgreSQL 18) computes nothing now. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.enums import ConstrType

from commands.checks.forecast.classes import WorkKind
from commands.checks.forecast.facts import SchemaFacts
from commands.checks.forecast.names import function_name
from commands.checks.forecast.type_names import SERIAL_TYPES, ColumnType
from commands.checks.sql_statements import walk

FAST_DEFAULT_SINCE = 11
VIRTUAL_GENERATED_SINCE = 18


@dataclass(frozen=True)
class ColumnAdd:
    """The work one added column brings: kinds (none: catalog-only) and the reason."""

    work: tuple[WorkKind, ...]
    reason: str
    references: tuple[ast.RangeVar, ...] = ()


def column_add(column: ast.ColumnDef, facts: SchemaFacts) -> ColumnAdd:
    """The cost of adding ``column`` to an existing table, on ``facts.server_major``."""
    name = column.colname
    kind = ColumnType.from_sql(column.typeName)
    constraints = list(column.constraints or ())
    references = tuple(c.pktable for c in constraints if c.contype == ConstrType.CONSTR_FOREIGN)
    rewrite = _rewrite_reason(kind, constraints, facts)
    if rewrite is not None:
        return ColumnAdd((WorkKind.REWRITE, *_index_work(constraints)), rewrite, references)
    work = _index_work(constraints)
    if any(c.contype == ConstrType.CONSTR_CHECK for c in constraints) or references:
        work = (WorkKind.SCAN, *work)
        reason = f"{name}: its CHECK or REFERENCES is verified against every row"
    elif work:
        reason = f"{name}: its UNIQUE or PRIMARY KEY index is built"
    else:
        reason = f"{name}: {_catalog_reason(constraints, facts)}"
    return ColumnAdd(work, reason, references)


def _rewrite_reason(
    kind: ColumnType, constraints: list[ast.Constraint], facts: SchemaFacts
) -> str | None:
    if kind.name in SERIAL_TYPES:
        return f"{kind.name} fills every row from a sequence (a volatile default): rewrites"
    for constraint in constraints:
        if constraint.contype == ConstrType.CONSTR_IDENTITY:
            return "an identity column fills every row from a sequence: rewrites"
        if constraint.contype == ConstrType.CONSTR_GENERATED:
            virtual = constraint.generated_kind == "v"
            if virtual and facts.server_major >= VIRTUAL_GENERATED_SINCE:
                continue
            return "a stored generated column is computed for every row: rewrites"
        if constraint.contype == ConstrType.CONSTR_DEFAULT and not _is_null(constraint.raw_expr):
            if facts.server_major < FAST_DEFAULT_SINCE:
                return f"a DEFAULT before PostgreSQL {FAST_DEFAULT_SINCE} fills every row: rewrites"
            volatile = volatile_call(constraint.raw_expr, facts)
            if volatile is not None:
                return f"DEFAULT {volatile}, evaluated for every row: rewrites"
    return None


def _catalog_reason(constraints: list[ast.Constraint], facts: SchemaFacts) -> str:
    has_default = any(
        c.contype == ConstrType.CONSTR_DEFAULT and not _is_null(c.raw_expr) for c in constraints
    )
    if has_default:
        return (
            f"a non-volatile DEFAULT is stored in the catalog (PostgreSQL {FAST_DEFAULT_SINCE}+):"
            " no rewrite"
        )
    if any(c.contype == ConstrType.CONSTR_GENERATED for c in constraints):
        return "a virtual generated column computes nothing now"
    return "no DEFAULT: existing rows read NULL, nothing is written"


def _index_work(constraints: list[ast.Constraint]) -> tuple[WorkKind, ...]:
    indexed = (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_EXCLUSION)
    return tuple(WorkKind.INDEX for c in constraints if c.contype in indexed)


def volatile_call(expression: Any, facts: SchemaFacts) -> str | None:
    """'random() is volatile' for the first function in ``expression`` that is volatile, or
    may be: one the catalog does not know (the plan creates it) counts as volatile."""
    for name in _function_names(expression):
        known = facts.volatility.get(name)
        if known == "v":
            return f"{name}() is volatile"
        if known is None:
            return f"{name}() is not in the catalog, so taken as volatile"
    return None


def _function_names(expression: Any) -> Iterator[str]:
    for node in walk(expression):
        if isinstance(node, ast.FuncCall):
            yield function_name(node)


def _is_null(expression: Any) -> bool:
    return isinstance(expression, ast.A_Const) and bool(expression.isnull)
