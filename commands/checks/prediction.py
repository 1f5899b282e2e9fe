"""Which revisions the bot cannot read statically, and why.

Verification compares the catalog before and after a run with what the SQL
says it drops. Some SQL says nothing the parser can see: a ``DO`` block, an
``EXECUTE`` of a string built at run time, a function called or (re)defined,
an ``op.execute`` of a Python-built string, a revision whose SQL cannot be
rendered offline at all. What such a revision changes is reported as "not
predicted", a warning: the database is judged, not the bot's parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pglast import ast

from commands.checks.sql_statements import Statement
from commands.migration.script.plan import Plan
from commands.migration.script.revision_file import ReviewError, review_file

_OPAQUE_NODES = {
    ast.DoStmt: "a DO block",
    ast.CallStmt: "a CALL of a procedure",
    ast.ExecuteStmt: "an EXECUTE",
    ast.CreateFunctionStmt: "a function definition",
}


def unpredictable(plan: Plan, statements: Mapping[str, Iterable[Statement]]) -> dict[str, str]:
    """``{revision: why its effect cannot be read from its SQL}`` for the plan's revisions."""
    found: dict[str, str] = {}
    for revision in plan.revisions:
        why = _why(plan, revision.id, revision.path, statements.get(revision.id, ()))
        if why:
            found[revision.id] = why
    return found


def _why(plan: Plan, revision: str, path: str, statements: Iterable[Statement]) -> str | None:
    if revision in plan.unavailable:
        return "its SQL is not available offline"
    why = next(filter(None, (_opaque(statement) for statement in statements)), None)
    if why:
        return why
    try:
        if review_file(path).dynamic_sql:
            return "SQL built or read at run time (op.execute of a dynamic string, op.get_bind())"
    except ReviewError:
        return "a revision file that cannot be read"
    return None


def _opaque(statement: Statement) -> str | None:
    if statement.node is None:
        return "SQL the parser cannot read"
    for kind, words in _OPAQUE_NODES.items():
        if isinstance(statement.node, kind):
            return words
    return "a function called from SQL" if _calls_function(statement.node) else None


def _calls_function(node: object) -> bool:
    """A ``SELECT f(...)`` run for its effect (no FROM): the function may change anything."""
    if not isinstance(node, ast.SelectStmt) or node.fromClause:
        return False
    return any(
        isinstance(target.val, ast.FuncCall)
        for target in node.targetList or ()
        if isinstance(target, ast.ResTarget)
    )
