"""The ``lint`` check: squawk's findings on each pending revision, sized against live tables.

Every finding is placed in its revision and statement. Findings on Alembic's
own ``alembic_version`` bookkeeping are dropped (they are Alembic's, not the
project's), and so are the two timeout rules, because the runner sets
``lock_timeout`` and ``statement_timeout`` itself; the output says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pglast import ast

from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Level, Verdict, levels_verdict, worst
from commands.checks.size_risk import assess
from commands.checks.sql_statements import Statement, statement_at
from commands.checks.squawk import TIMEOUT_RULES, SquawkFinding, run_squawk
from commands.units import format_duration


@dataclass(frozen=True)
class LintFinding:
    """One risk in one statement of one revision, in an approver's words."""

    revision: str
    rules: tuple[str, ...]
    level: Level
    sentence: str
    statement_number: int
    statement: str  # the statement on one line, cut short
    line: int  # 1-based, in the revision's offline SQL
    table: str | None
    help: str

    def to_json(self) -> dict[str, object]:
        return {
            "revision": self.revision,
            "rules": list(self.rules),
            "level": self.level.value,
            "sentence": self.sentence,
            "statement_number": self.statement_number,
            "statement": self.statement,
            "line": self.line,
            "table": self.table,
            "help": self.help,
        }


def lint_findings(context: PreflightContext) -> list[LintFinding]:
    """Squawk's findings on the plan's SQL, placed, sized and merged per statement."""
    plan = context.plan
    sql = {rev.id: plan.sql[rev.id] for rev in plan.revisions if plan.sql.get(rev.id)}
    raw = run_squawk(sql, pg_version=context.server_version)
    order = {rev.id: index for index, rev in enumerate(plan.revisions)}
    merged: dict[tuple[str, int, str], LintFinding] = {}
    for finding in raw:
        statement = statement_at(
            context.statements[finding.revision], _offset(sql[finding.revision], finding)
        )
        if statement is not None and statement.bookkeeping:
            continue
        if finding.rule in EXISTING_TABLE_RULES and _on_a_new_table(context, statement):
            continue
        placed = _finding(context, finding, statement)
        key = (placed.revision, placed.line, placed.sentence)
        if key in merged:
            earlier = merged[key]
            placed = LintFinding(**{**earlier.__dict__, "rules": (*earlier.rules, *placed.rules)})
        merged[key] = placed
    return sorted(merged.values(), key=lambda f: (order[f.revision], f.line))


# Rules about changing a table that holds rows: on a table this plan creates (the CREATE
# TABLE itself, or a later change to it) nothing is locked for anyone, so they are noise.
EXISTING_TABLE_RULES = frozenset({"prefer-text-field"})


def _on_a_new_table(context: PreflightContext, statement: Statement | None) -> bool:
    if statement is None or statement.table is None:
        return False
    if isinstance(statement.node, ast.CreateStmt):
        return True
    size = context.table_sizes.get(statement.table)
    return size is not None and not size.exists


def _finding(
    context: PreflightContext, finding: SquawkFinding, statement: Statement | None
) -> LintFinding:
    table = statement.table if statement is not None else None
    size = context.table_sizes.get(table) if table else None
    risk = assess(finding.rule, finding.message, statement, size, context.settings)
    return LintFinding(
        revision=finding.revision,
        rules=(finding.rule,),
        level=risk.level,
        sentence=risk.sentence,
        statement_number=statement.number if statement else 0,
        statement=statement.short if statement else "",
        line=statement.line if statement else finding.line + 1,
        table=table,
        help=finding.help,
    )


def _offset(sql: str, finding: SquawkFinding) -> int:
    """Character offset of squawk's 0-based line and column."""
    lines = sql.split("\n")
    return sum(len(line) + 1 for line in lines[: finding.line]) + finding.column


def check_lint(context: PreflightContext) -> CheckResult:
    findings = lint_findings(context)
    total = len(context.plan.revisions)
    unlinted = [
        f"not linted: {rev.id}: {context.plan.sql_note(rev)}" for rev in context.plan.unrendered
    ]
    result = _lint_result(context, findings, total)
    if not unlinted:
        return result
    return CheckResult(
        "lint",
        worst((result.verdict, Verdict.WARN)),
        f"{result.summary}; {len(unlinted)} revision(s) not linted: their SQL is not"
        " available offline (read them)",
        (*unlinted, *result.details),
        {
            **result.data,
            "not_linted": [
                {"revision": rev.id, "note": context.plan.sql_note(rev)}
                for rev in context.plan.unrendered
            ],
        },
    )


def _lint_result(context: PreflightContext, findings: list[LintFinding], total: int) -> CheckResult:
    timeouts = (
        f"{' and '.join(TIMEOUT_RULES)} not applied: the runner sets lock_timeout"
        f" {format_duration(context.handle.config.lock_timeout)} and statement_timeout"
        f" {format_duration(context.handle.config.statement_timeout)} itself"
    )
    data = {
        "pg_version": ".".join(map(str, context.server_version)),
        "excluded_rules": list(TIMEOUT_RULES),
        "findings": [f.to_json() for f in findings],
    }
    if not findings:
        return CheckResult(
            "lint", levels_verdict(()), f"no findings in {total} revision(s)", (timeouts,), data
        )
    revisions = len({f.revision for f in findings})
    summary = f"{_counts(f.level for f in findings)} in {revisions} of {total} revision(s)"
    details = [
        f"{f.level.value:<4}  {f.revision} #{f.statement_number}: {f.sentence}" for f in findings
    ]
    return CheckResult(
        "lint", levels_verdict(f.level for f in findings), summary, (*details, timeouts), data
    )


def _counts(levels: Iterable[Level]) -> str:
    found = list(levels)
    parts = [f"{found.count(level)} {level.value}" for level in reversed(Level)]
    return ", ".join(p for p in parts if not p.startswith("0 "))
