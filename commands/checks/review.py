"""The ``review`` check: the runbook's review checklist, where a program can tick it.

Revision files are read with ``ast`` (never run, never matched with regular
expressions): a module docstring saying what the migration is for, and a
``downgrade()`` that does something. The SQL that will run is read with
PostgreSQL's parser for the runbook's "IF EXISTS / IF NOT EXISTS for
idempotency" on creates and drops, and for a revision whose function does
something while its rendered SQL holds only the version table's update (it
skips offline mode, or catches its own offline failure): the plan would show
it as doing nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast as sql_ast
from pglast.enums import AlterTableType

from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Level, levels_verdict
from commands.checks.sql_names import relname
from commands.checks.sql_statements import Statement
from commands.migration.script.revision_file import Body, FileReview, review_file
from commands.migration.script.revision_graph import Direction

# what a downgrade() that is missing, only raises or does nothing means, by the run's way:
# going up, that the run cannot be undone by Alembic; going down, what undoing it does
_DOWNGRADE_ITEMS = {
    Direction.UP: {
        Body.MISSING: "no downgrade(): the only way back is a restore",
        Body.RAISES: "downgrade() only raises: the only way back is a restore",
        Body.EMPTY: "downgrade() does nothing (just `pass`): the only way back is a restore",
    },
    Direction.DOWN: {
        Body.MISSING: "no downgrade(): undoing it fails here, so this downgrade cannot run"
        " (a restore is the way back)",
        Body.RAISES: "downgrade() only raises: undoing it fails here, so this downgrade cannot"
        " run (a restore is the way back)",
        Body.EMPTY: "downgrade() does nothing (just `pass`): undoing it leaves its changes"
        " in the database",
    },
}


def file_items(review: FileReview, direction: Direction) -> Iterator[tuple[Level, str]]:
    """The checklist items a file misses, in words for a run going ``direction``."""
    if not review.docstring:
        yield Level.WARN, "no docstring saying what the migration is for"
    if review.downgrade is Body.EMPTY and review.upgrade is Body.EMPTY:
        return  # nothing to undo
    item = _DOWNGRADE_ITEMS[direction].get(review.downgrade)
    if item is not None:  # a downgrade through it would fail there, after a backup: refused
        doomed = direction is Direction.DOWN and review.downgrade in (Body.MISSING, Body.RAISES)
        yield Level.FAIL if doomed else Level.WARN, item


def offline_items(
    review: FileReview, direction: Direction, statements: list[Statement]
) -> Iterator[tuple[Level, str]]:
    """The SQL shown is not what will run: a revision whose function does something but
    whose rendered SQL holds nothing of its own (it skips offline mode, or catches its own
    offline failure), which a reviewer would read as doing nothing; else one that asks
    ``is_offline_mode()`` (Dify's seven print a comment offline and migrate data online)."""
    function = "upgrade" if direction is Direction.UP else "downgrade"
    body = review.upgrade if direction is Direction.UP else review.downgrade
    if body is Body.REAL and statements and all(s.bookkeeping for s in statements):
        yield (
            Level.WARN,
            f"{function}() has a body but its offline SQL holds only the version table's"
            " update: what it runs is decided when it runs (read the file)",
        )
    elif review.offline_branch:
        yield (
            Level.WARN,
            "it asks is_offline_mode(): the SQL shown is what it renders offline, not what"
            " it runs (read the file)",
        )


def idempotency_items(statements: list[Statement]) -> Iterator[tuple[Level, str]]:
    """Creates without IF NOT EXISTS and drops without IF EXISTS (the runbook asks for both)."""
    for statement in statements:
        if statement.bookkeeping or statement.node is None:
            continue
        for missing in _not_idempotent(statement.node):
            yield Level.NOTE, f"#{statement.number} {missing}"


def _not_idempotent(node: Any) -> Iterator[str]:
    if isinstance(node, sql_ast.CreateStmt) and not node.if_not_exists:
        yield f"CREATE TABLE {relname(node.relation)} without IF NOT EXISTS"
    elif isinstance(node, sql_ast.IndexStmt) and not node.if_not_exists:
        yield f"CREATE INDEX {node.idxname or ''} without IF NOT EXISTS".replace("  ", " ")
    elif isinstance(node, sql_ast.DropStmt) and not node.missing_ok:
        yield "DROP without IF EXISTS"
    elif isinstance(node, sql_ast.AlterTableStmt):
        for command in node.cmds or ():
            if command.missing_ok:
                continue
            if command.subtype == AlterTableType.AT_AddColumn:
                yield f"ADD COLUMN {command.def_.colname} without IF NOT EXISTS"
            elif command.subtype in (
                AlterTableType.AT_DropColumn,
                AlterTableType.AT_DropConstraint,
            ):
                yield f"DROP {command.name} without IF EXISTS"


def check_review(context: PreflightContext) -> CheckResult:
    items: list[tuple[str, Level, str]] = []
    files = {}
    direction = context.plan.direction
    for revision in context.plan.revisions:
        review = review_file(revision.path)
        files[revision.id] = review
        items += [(revision.id, lv, text) for lv, text in file_items(review, direction)]
        statements = context.statements.get(revision.id, [])
        offline = offline_items(review, direction, statements)
        items += [(revision.id, level, text) for level, text in offline]
        items += [(revision.id, level, text) for level, text in idempotency_items(statements)]
    total = len(context.plan.revisions)
    data = {
        "items": [{"revision": r, "level": lv.value, "item": t} for r, lv, t in items],
        "downgrade": {rev: review.downgrade.value for rev, review in files.items()},
    }
    verdict = levels_verdict(level for _, level, _ in items)
    if not items:
        return CheckResult(
            "review",
            verdict,
            f"{total} revision(s): docstrings, downgrades, IF [NOT] EXISTS",
            (),
            data,
        )
    flagged = len({rev for rev, level, _ in items if level is not Level.NOTE})
    notes = sum(1 for _, level, _ in items if level is Level.NOTE)
    parts = [f"{flagged} of {total} revision(s) miss a checklist item"] if flagged else []
    parts += [f"{notes} statement(s) without IF [NOT] EXISTS"] if notes else []
    details = tuple(f"{level.value:<4}  {rev}: {text}" for rev, level, text in items)
    return CheckResult("review", verdict, "; ".join(parts), details, data)
