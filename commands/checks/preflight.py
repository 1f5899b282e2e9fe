"""Pre-flight: everything the runbook asks before a migration, as one report.

Two gates open the way: the database answers (``connectivity``), and Alembic
can say where it stands and what would run (``alembic``). Past them, each
check reads a shared context: one connection, one Alembic child session for
the state, the plan and its SQL, the plan's statements parsed once and the
sizes of the tables they touch looked up once. The report's verdict decides:
``fail`` blocks approval and running, ``warn`` is shown to the approver.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from contextlib import nullcontext

import psycopg
from psycopg import sql

from audit.store import Clock, utc_now
from commands.checks.context import OpenTarget, PreflightContext
from commands.checks.disk import check_disk
from commands.checks.drift import check_drift
from commands.checks.forecast.learned import Learned
from commands.checks.forecast_check import check_forecast
from commands.checks.framework import Check, CheckResult, Phase, Report, Verdict, run_checks
from commands.checks.lint import check_lint
from commands.checks.live_use import check_live_use
from commands.checks.promotion import check_promotion
from commands.checks.replication import check_replication
from commands.checks.review import check_review
from commands.checks.sessions_locks import check_locks, check_sessions
from commands.config.targets_file import load_config
from commands.errors import AlembicError, DatabaseUnavailableError, RevisionError
from commands.migration.planning import plan_in_session, with_sql
from commands.migration.runtime.runner import AlembicRunner, AlembicSession, ProjectState
from commands.migration.script.plan import Plan, revisions_text
from commands.migration.script.revision_graph import Direction
from commands.postgres.connections import connect, server_version
from commands.schema.replay_ahead import ReplayAhead, replay_ahead
from commands.schema.replay_cache import ReplayCache
from commands.targets import TargetHandle, open_target

LIVE_CHECKS: tuple[Check[PreflightContext], ...] = (
    Check("disk", check_disk),
    Check("sessions", check_sessions),
    Check("locks", check_locks),
    Check("replication", check_replication),
    Check("promotion", check_promotion),
    Check("live_use", check_live_use),
    Check("drift", check_drift),
)
"""The checks that read the live database: a run repeats them before it changes anything."""
PREFLIGHT_CHECKS: tuple[Check[PreflightContext], ...] = (
    Check("lint", check_lint),
    Check("forecast", check_forecast),
    Check("review", check_review),
    *LIVE_CHECKS,
)
"""Everything: lint and review read the revision files, which an approval's fingerprint pins;
the forecast is what the approver sees of their cost."""
SQL_CHECKS = frozenset({"lint", "forecast"})
"""Checks that read the plan's offline SQL."""


def run_preflight(
    handle: TargetHandle,
    *,
    to: str | None = None,
    direction: Direction = Direction.UP,
    environ: Mapping[str, str] = os.environ,
    open_other: OpenTarget | None = None,
    clock: Clock = utc_now,
    session: AlembicSession | None = None,
    checks: tuple[Check[PreflightContext], ...] = PREFLIGHT_CHECKS,
    known: tuple[ProjectState, Plan] | None = None,
    learned: Learned | None = None,
    schema_cache: ReplayCache | None = None,
    ahead: ReplayAhead | None = None,
) -> Report:
    """The pre-flight ``checks`` on ``handle`` for the move to ``to`` (default head / base).

    Never raises for what it finds: an unreachable database or an unplannable
    project is a failing check in the report. ``open_other`` opens the target
    a promotion gate names (default: from the loaded config). ``session`` is
    the caller's Alembic child (a run keeps one); without it one is opened.
    ``known`` is the state and plan the caller has just made (no second
    inspect; with its SQL, no child at all: a fleet plans once per group of
    members). The plan's SQL is rendered only when ``lint`` or ``forecast`` is among the
    checks. ``learned``: the rates past runs on the target taught the forecast.
    ``schema_cache`` keeps the history's replayed schema for the ``drift`` check
    (without it, this process's memory only). When the child is opened here, the
    drift check's replay child starts beside it and replays while the plan's SQL is
    rendered (``replay_ahead.py``).
    """
    wants_sql = any(check.name in SQL_CHECKS for check in checks)
    needs_child = known is None or (wants_sql and not has_preview(known[1]))
    schema_cache = schema_cache or ReplayCache(None)
    if session is None and needs_child:  # a known plan with its preview needs no child
        drift = known is None and any(check.name == "drift" for check in checks)
        with (
            AlembicRunner.for_target(handle).session() as own,
            replay_ahead(handle, schema_cache) if drift else nullcontext() as replaying,
        ):
            return run_preflight(
                handle,
                to=to,
                direction=direction,
                environ=environ,
                open_other=open_other,
                clock=clock,
                session=own,
                checks=checks,
                known=known,
                learned=learned,
                schema_cache=schema_cache,
                ahead=replaying,
            )
    started_at, started = clock(), time.monotonic()
    results: list[CheckResult] = []

    def report(plan: Plan | None = None, version: str | None = None) -> Report:
        return Report(
            phase=Phase.PREFLIGHT,
            target=handle.name,
            results=tuple(results),
            started_at=started_at,
            duration_s=time.monotonic() - started,
            plan=plan,
            server_version=version,
        )

    try:
        conn = connect(handle.database)
    except DatabaseUnavailableError as exc:
        results.append(CheckResult("connectivity", Verdict.FAIL, str(exc)))
        return report()
    with conn:
        major, minor = server_version(conn)
        version = f"{major}.{minor}"
        results.append(_connectivity(conn, handle, version, time.monotonic() - started))
        try:
            if known is None:
                assert session is not None, "opened above: a plan not known needs the child"
                state = session.inspect()
                if ahead is not None:
                    ahead.replay(state)
                plan = plan_in_session(
                    session,
                    handle.name,
                    direction=direction,
                    to=to,
                    state=state,
                    with_sql=wants_sql,
                )
            else:
                state, plan = known
                if wants_sql and session is not None:
                    plan = with_sql(session, plan, state)
        except (AlembicError, RevisionError) as exc:
            results.append(CheckResult("alembic", Verdict.FAIL, str(exc)))
            return report(version=version)
        results.append(_alembic(conn, state, plan))
        context = PreflightContext(
            handle=handle,
            conn=conn,
            server_version=(major, minor),
            state=state,
            plan=plan,
            environ=environ,
            open_other=open_other or _from_loaded_config(environ),
            clock=clock,
            learned=learned,
            schema_cache=schema_cache,
        )
        results += run_checks(checks, context, context.settings)
    return report(plan, version)


def has_preview(plan: Plan) -> bool:
    """Whether ``plan``'s SQL preview is made (or there is nothing to preview)."""
    return bool(plan.sql or plan.unavailable or plan.is_empty)


def _from_loaded_config(environ: Mapping[str, str]) -> OpenTarget:
    return lambda name: open_target(load_config(environ).target(name), environ)


def _connectivity(
    conn: psycopg.Connection, handle: TargetHandle, version: str, seconds: float
) -> CheckResult:
    row = conn.execute("SELECT current_user, pg_is_in_recovery()").fetchone()
    assert row is not None
    user, in_recovery = row
    if in_recovery:
        return CheckResult(
            "connectivity",
            Verdict.FAIL,
            f"{handle.database.display()} is a read-only replica (in recovery): point the"
            " target at the primary",
        )
    return CheckResult(
        "connectivity",
        Verdict.PASS,
        f"PostgreSQL {version} at {handle.database.display()} as {user}",
        data={"server_version": version, "user": user},
        duration_s=seconds,
    )


def _alembic(conn: psycopg.Connection, state: ProjectState, plan: Plan) -> CheckResult:
    """Where the database stands, the heads, and the pending revisions listed one by one."""
    graph = state.graph
    try:
        recorded = _version_table(conn, state.version_table)
    except psycopg.Error as exc:
        return CheckResult("alembic", Verdict.FAIL, f"{state.version_table} is not readable: {exc}")
    current = revisions_text(state.current)
    heads = graph.heads
    head_text = f"head {heads[0]}" if len(heads) == 1 else f"{len(heads)} heads"
    goal = ", ".join(plan.destination) or "base"
    verb = "pending" if plan.direction is Direction.UP else "to undo"
    summary = f"at {current}; {head_text}; {len(plan.revisions)} revision(s) {verb} to {goal}"
    details = tuple(
        f"{rev.id}  {rev.message.splitlines()[0] if rev.message else ''}".rstrip()
        for rev in plan.revisions
    )
    handed = state.handed.describe() if state.handed else None
    details += (f"env.py gets {handed}",) if handed else ()
    data = {
        "current": list(state.current),
        "heads": list(heads),
        "destination": list(plan.destination),
        "pending": [rev.id for rev in plan.revisions],
        "version_table": recorded,
        "env_py_url": handed,
    }
    return CheckResult("alembic", Verdict.PASS, summary, details, data)


def _version_table(conn: psycopg.Connection, table: str) -> str:
    """Whether env.py's version table exists and this account can read it (as Alembic will)."""
    quoted = sql.SQL(".").join(sql.Identifier(part) for part in table.split("."))
    with conn.transaction():
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (quoted.as_string(conn),))
        found = row.fetchone()
        if not found or not found[0]:
            return "absent (the database is at base)"
        conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(quoted))
    return "readable"
