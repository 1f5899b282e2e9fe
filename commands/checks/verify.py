"""Post-migration verification: the runbook's step 4, checked and recorded.

The revision is the one planned; no index was left INVALID; the schema
changed the way the SQL said it would and nothing else disappeared; watched
tables did not lose rows; the health URL answers; each smoke statement runs.
A failing report names the ways back, which the pipeline offers as new
requests (each needs its approval).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import psycopg

from audit.store import Clock, utc_now
from commands.checks.catalog import (
    CatalogSnapshot,
    ExpectedRemovals,
    diff_catalog,
    snapshot_with,
)
from commands.checks.dropped_objects import expected_removals
from commands.checks.framework import (
    Check,
    CheckResult,
    Phase,
    Report,
    RollbackPath,
    Verdict,
    run_checks,
)
from commands.checks.health_probe import probe_health
from commands.checks.models import CompareModels, check_models
from commands.checks.prediction import unpredictable
from commands.checks.sql_statements import Statement, parse_statements
from commands.errors import AlembicError, DatabaseUnavailableError
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.plan import Plan, revisions_text
from commands.migration.script.revision_file import reversible
from commands.migration.script.revision_graph import Direction
from commands.postgres.connections import connect
from commands.targets import TargetHandle
from commands.units import format_duration

SMOKE_TIMEOUT = "30s"


SqlPreview = Callable[[Plan], Plan]
"""Renders a plan's offline SQL when the plan was made without it (a run renders it
only if the catalog changed in a way it must explain)."""


@dataclass
class VerifyContext:
    handle: TargetHandle
    plan: Plan
    before: CatalogSnapshot
    after: CatalogSnapshot
    conn: psycopg.Connection
    sql_preview: SqlPreview | None = None
    compare_models: CompareModels | None = None

    @cached_property
    def statements(self) -> dict[str, list[Statement]]:
        """The plan's statements, from its SQL (rendered now if it was not)."""
        plan = self.plan
        if self.sql_preview is not None and not (plan.sql or plan.unavailable):
            plan = self.plan = self.sql_preview(plan)
        return {
            rev: parse_statements(rev, sql, version_table=plan.version_table)
            for rev, sql in plan.sql.items()
        }

    @cached_property
    def invalid_indexes(self) -> list[str]:
        return [obj.key for obj in self.after.of_kind("index") if obj.state == "INVALID"]


def check_invalid_indexes(context: VerifyContext) -> CheckResult:
    invalid = context.invalid_indexes
    if not invalid:
        return CheckResult("invalid_indexes", Verdict.PASS, "every index is valid")
    return CheckResult(
        "invalid_indexes",
        Verdict.FAIL,
        f"{len(invalid)} INVALID index(es): {', '.join(invalid)} (a failed CONCURRENTLY build)",
        tuple(
            f"fix: DROP INDEX CONCURRENTLY {name}; then run the revision again" for name in invalid
        ),
        {"invalid": invalid},
    )


def check_catalog(context: VerifyContext) -> CheckResult:
    """What changed in the schema; a removal no statement names is a warning, never a
    failure: the SQL the bot reads is a preview, and env.py's code may do more."""
    diff = diff_catalog(context.before, context.after, expected=ExpectedRemovals())
    if diff.removed:  # only then is the SQL needed to tell expected from not
        statements = [s for found in context.statements.values() for s in found]
        diff = diff_catalog(context.before, context.after, expected=expected_removals(statements))
    counts = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
    data: dict[str, object] = {
        "lines": diff.lines(),
        "unexpected": [obj.key for obj in diff.unexpected],
    }
    if not diff.unexpected:
        summary = "schema unchanged" if diff.empty else counts
        return CheckResult("catalog", Verdict.PASS, summary, tuple(diff.lines()), data)
    opaque = unpredictable(context.plan, context.statements)
    data["not_predicted_by"] = opaque
    gone = ", ".join(obj.describe() for obj in diff.unexpected)
    why = (
        "not predicted: " + "; ".join(f"{rev} runs {reason}" for rev, reason in opaque.items())
        if opaque
        else "no statement of the plan's SQL names it"
    )
    return CheckResult(
        "catalog",
        Verdict.WARN,
        f"{gone} removed ({why}); {counts}",
        tuple(diff.lines()),
        data,
    )


def check_row_counts(context: VerifyContext) -> CheckResult:
    watched = context.handle.config.watch_tables
    if not watched:
        return CheckResult("row_counts", Verdict.SKIP, "no watched tables (watch_tables)")
    limit = context.handle.config.checks.max_row_drop
    details, dropped = [], []
    for table in watched:
        before = context.before.row_counts.get(table, -1)
        after = context.after.row_counts.get(table, -1)
        details.append(f"{table}: {_count(before)} -> {_count(after)}")
        lost = before > 0 and (after < 0 or (before - after) / before > limit)
        if lost or (before >= 0 > after):
            dropped.append(table)
    data = {"before": dict(context.before.row_counts), "after": dict(context.after.row_counts)}
    if dropped:
        return CheckResult(
            "row_counts",
            Verdict.FAIL,
            f"{', '.join(dropped)} lost more than {limit:.0%} of rows",
            tuple(details),
            data,
        )
    return CheckResult(
        "row_counts",
        Verdict.PASS,
        f"{len(watched)} watched table(s) kept their rows",
        tuple(details),
        data,
    )


def _count(rows: int) -> str:
    return "missing" if rows < 0 else f"{rows:,}"


def check_health(context: VerifyContext) -> CheckResult:
    url = context.handle.config.health_url
    if url is None:
        return CheckResult("health", Verdict.SKIP, "no health URL (health_url)")
    answer = probe_health(url)
    if answer.status is None:
        return CheckResult("health", Verdict.FAIL, answer.describe())
    verdict = Verdict.PASS if answer.ok else Verdict.FAIL
    summary = f"{answer.describe()} in {format_duration(answer.seconds)}"
    return CheckResult("health", verdict, summary, data={"status": answer.status})


def check_smoke_sql(context: VerifyContext) -> CheckResult:
    """Each statement in a transaction of its own, rolled back: smoke tests never write."""
    statements = context.handle.config.smoke_sql
    if not statements:
        return CheckResult("smoke_sql", Verdict.SKIP, "no smoke statements (smoke_sql)")
    details, failed = [], 0
    for sql in statements:
        started = time.monotonic()
        try:
            with context.conn.transaction(force_rollback=True):
                context.conn.execute(f"SET LOCAL statement_timeout = '{SMOKE_TIMEOUT}'")
                context.conn.execute(sql)
            details.append(f"ok in {format_duration(time.monotonic() - started)}: {sql}")
        except psycopg.Error as exc:
            failed += 1
            details.append(f"FAILED: {sql}: {str(exc).strip().splitlines()[0]}")
    if failed:
        return CheckResult(
            "smoke_sql",
            Verdict.FAIL,
            f"{failed} of {len(statements)} statement(s) failed",
            tuple(details),
        )
    return CheckResult(
        "smoke_sql", Verdict.PASS, f"{len(statements)} statement(s) ran", tuple(details)
    )


def check_models_after_run(context: VerifyContext) -> CheckResult:
    assert context.compare_models is not None
    return check_models(context.compare_models)


VERIFY_CHECKS: tuple[Check[VerifyContext], ...] = (
    Check("invalid_indexes", check_invalid_indexes),
    Check("catalog", check_catalog),
    Check("models", check_models_after_run),
    Check("row_counts", check_row_counts),
    Check("health", check_health),
    Check("smoke_sql", check_smoke_sql),
)


def verify_after_run(
    handle: TargetHandle,
    plan: Plan,
    before: CatalogSnapshot,
    *,
    clock: Clock = utc_now,
    read_current: Callable[[], tuple[str, ...]] | None = None,
    compare_models: CompareModels | None = None,
    sql_preview: SqlPreview | None = None,
    after: CatalogSnapshot | None = None,
) -> Report:
    """Verify ``handle`` after ``plan`` ran, against the snapshot taken ``before`` it
    (and ``after`` it, when the caller took that one too; else now).

    ``read_current`` reads the version table and ``compare_models`` compares
    env.py's ``target_metadata`` with the database (a run asks its own Alembic
    child; without them one child is started for both), ``sql_preview`` renders
    the plan's SQL if it has none. Never raises for what it finds; a failing
    report carries the rollback paths.
    """
    if read_current is None or compare_models is None:
        with AlembicRunner.for_target(handle).session() as own:
            return verify_after_run(
                handle,
                plan,
                before,
                clock=clock,
                read_current=read_current or own.current,
                compare_models=compare_models or own.compare_models,
                sql_preview=sql_preview,
                after=after,
            )
    started_at, started = clock(), time.monotonic()
    results: list[CheckResult] = []
    try:
        conn = connect(handle.database)
    except DatabaseUnavailableError as exc:
        results.append(CheckResult("revision", Verdict.FAIL, str(exc)))
    else:
        with conn:
            results.append(_check_revision(read_current, plan))
            if after is None:
                after = snapshot_with(conn, watch_tables=handle.config.watch_tables, clock=clock)
            context = VerifyContext(handle, plan, before, after, conn, sql_preview, compare_models)
            results += run_checks(VERIFY_CHECKS, context, handle.config.checks)
    report = Report(
        phase=Phase.VERIFICATION,
        target=handle.name,
        results=tuple(results),
        started_at=started_at,
        duration_s=time.monotonic() - started,
        plan=plan,
    )
    if report.blocks:
        return Report(**{**report.__dict__, "rollback": rollback_paths(plan)})
    return report


def _check_revision(read_current: Callable[[], tuple[str, ...]], plan: Plan) -> CheckResult:
    try:
        current = read_current()
    except AlembicError as exc:
        return CheckResult("revision", Verdict.FAIL, f"cannot read the current revision: {exc}")
    wanted = revisions_text(plan.destination)
    shown = revisions_text(current)
    if set(current) != set(plan.destination):
        return CheckResult("revision", Verdict.FAIL, f"at {shown}, not {wanted} as planned")
    return CheckResult("revision", Verdict.PASS, f"at {shown}, as planned")


def rollback_paths(plan: Plan) -> tuple[RollbackPath, ...]:
    """The runbook's two ways back: Alembic to the starting revision, or the backup."""
    start = ", ".join(plan.current) or "base"
    if plan.direction is Direction.UP:
        hollow = [rev.id for rev in plan.revisions if not reversible(rev.path)]
        caveat = (
            f"; {', '.join(hollow)} has no real downgrade(), so restore instead" if hollow else ""
        )
        way_back = (
            f"downgrade {plan.target} to {start} (migrate-bot downgrade {plan.target} {start}),"
            f" running the downgrade() of {len(plan.revisions)} revision(s){caveat}"
        )
    else:
        way_back = (
            f"upgrade {plan.target} back to {start}"
            f" (migrate-bot upgrade {plan.target} --to {start})"
        )
    return (
        RollbackPath("downgrade" if plan.direction is Direction.UP else "upgrade", way_back),
        RollbackPath(
            "restore",
            f"restore the backup taken before the run (pg_restore --clean --if-exists);"
            f" it holds revision {start}",
        ),
    )
