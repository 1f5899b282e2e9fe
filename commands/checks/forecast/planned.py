"""A plan's revisions made ready for the cost model: statements classified, in transactions.

The statements are classified in plan order on one ``SchemaFacts``, so a
revision finds the schema the earlier ones leave. Each statement is placed in
its transaction by the offline SQL's own ``BEGIN``/``COMMIT`` (Alembic writes
them per revision, and around an ``autocommit_block``, whose statements run
each on its own). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pglast
from pglast import ast
from pglast.enums import TransactionStmtKind

from commands.checks.forecast.classify import classify
from commands.checks.forecast.cost import PlannedRevision
from commands.checks.forecast.facts import SchemaFacts
from commands.checks.sql_statements import Statement
from commands.migration.script.plan import Plan

_OPENS = (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START)


def planned_revisions(
    plan: Plan, statements: Mapping[str, Sequence[Statement]], facts: SchemaFacts
) -> list[PlannedRevision]:
    """Every revision of ``plan``: its statements classified, or why it has none."""
    planned = []
    for revision in plan.revisions:
        note = plan.sql_note(revision)
        sql = plan.sql.get(revision.id)
        if note is None and sql is None:
            note = "its SQL was not rendered"
        if note is not None or sql is None:
            planned.append(PlannedRevision(revision.id, (), note))
            continue
        parsed = list(statements.get(revision.id, ()))
        numbers = transaction_numbers(sql, len(parsed))
        own = [
            (statement, classify(statement, facts), number)
            for statement, number in zip(parsed, numbers, strict=True)
            if not statement.bookkeeping
        ]
        planned.append(PlannedRevision(revision.id, tuple(own)))
    return planned


def transaction_numbers(sql: str, count: int) -> list[int]:
    """For each of the ``count`` statements of ``sql`` (transaction control left out, as
    ``parse_statements`` lists them), the number of the transaction it runs in."""
    try:
        raw = pglast.parse_sql(sql)
    except pglast.parser.ParseError:
        return [0] * count
    numbers: list[int] = []
    current, open_block = 0, False
    for item in raw:
        node = item.stmt
        if isinstance(node, ast.TransactionStmt):
            if node.kind in _OPENS:
                current, open_block = current + 1, True
            else:
                open_block = False
            continue
        if not open_block:
            current += 1  # outside BEGIN … COMMIT: a transaction of its own
        numbers.append(current)
    return numbers if len(numbers) == count else [0] * count
