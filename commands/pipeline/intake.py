"""Turning an ask ("upgrade prod to head") into a request an approver can judge.

Pre-flight runs first, so the request is born with its checks, its plan (with
the SQL) and the fingerprint the approval will bind to: one database's, or a
fleet's set plan over its members (``commands.fleet.planning``). With
``rehearse = true`` the target is also backed up and the plan rehearsed on a
restored copy, and the timings become the approver's estimate. Both fronts
call ``propose``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from audit.store import Clock, EventStore
from commands.backup.listing import find_backup
from commands.backup.records import BackupRecord
from commands.backup.take import take_backup
from commands.changes.upgrade_guard import changes_check, stop_before
from commands.checks import (
    CheckResult,
    Phase,
    Report,
    Verdict,
    record_report,
    rehearse,
    run_preflight,
)
from commands.checks.forecast.learned import learned_rates
from commands.checks.forecast.recording import record_score, recorded_forecast, scored
from commands.checks.preflight import PREFLIGHT_CHECKS
from commands.errors import MigrateBotError
from commands.fleet.planning import FleetAsk, plan_fleet
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.fingerprint import PlanFingerprint, fingerprint_plan
from commands.migration.script.plan import Plan, revisions_text
from commands.migration.script.revision_graph import HEAD, HEADS, Direction
from commands.pipeline.context import BOT_ACTOR, RunContext
from commands.pipeline.plans import plan_request
from commands.pipeline.rehearsal_copy import scratch_from_backup
from commands.pipeline.watch import record_intake_sample
from commands.requests import ProposalError, Request
from commands.schema.replay_cache import replay_cache
from commands.state.vocabulary import RequestKind
from commands.targets import TargetHandle
from commands.units import format_bytes


@dataclass(frozen=True)
class Proposal:
    """A new request with the checks and plan it was created from."""

    request: Request
    report: Report
    plan: Plan


@dataclass(frozen=True)
class _Checked:
    """An ask checked and planned: its pre-flight, plan and fingerprint; ``handle`` is the
    one database's (a fleet's members were checked each on their own)."""

    report: Report
    plan: Plan
    fingerprint: PlanFingerprint
    handle: TargetHandle | None = None
    goal: str | None = None  # where the request goes: the ask's, or where a change stops it


def propose(
    context: RunContext,
    *,
    kind: RequestKind,
    target: str,
    goal: str | None,
    requester: str,
    origin: Mapping[str, str] | None = None,
    reason: str = "",
    dedupe_key: str | None = None,
    members: Sequence[str] | None = None,
    goals: Mapping[str, str] | None = None,
) -> Proposal:
    """Check, plan and record a new request; its pre-flight decides if it may be approved.

    On a fleet, one request over its members (``members``: some of them, default
    all; ``goals``: a member's own goal over ``goal``), with the set's pre-flight.
    Raises ``ProposalError`` when no plan can be made (the database or the
    project is unreadable: the pre-flight's failure says why),
    ``NothingToDoError``, ``UnknownBackupError``, ``RequestInputError``,
    ``ConfigError``.
    """
    if context.config.target(target).is_fleet:  # one request over the fleet's members
        checked = _check_members(context, target, FleetAsk(kind, goal, members, goals))
    else:
        checked = _check_database(context, target, kind, goal)
    request = context.requests.create(
        kind=kind,
        target=target,
        requester=requester,
        fingerprint=checked.fingerprint,
        goal=checked.goal,
        origin=origin,
        reason=reason,
        dedupe_key=dedupe_key,
    )
    if request.preflight is not None:  # a retried ask: the request already exists
        return Proposal(request, checked.report, checked.plan)
    report, handle = checked.report, checked.handle
    if (
        handle is not None
        and handle.config.rehearse
        and not report.blocks
        and checked.plan.revisions
    ):
        report = _with_rehearsal(
            handle,
            report=report,
            plan=checked.plan,
            store=context.store,
            request_id=request.id,
            clock=context.clock,
        )
    record_report(context.store, report, actor=BOT_ACTOR, request_id=request.id)
    if handle is not None:
        record_intake_sample(context.store, handle, request)  # "before the run" begins, if watched
    request = context.requests.record_preflight(
        request.id,
        actor=BOT_ACTOR,
        passed=not report.blocks,
        summary=preflight_summary(report),
        checks=[r.to_json() for r in report.results],
    )
    return Proposal(request, report, checked.plan)


def _check_database(
    context: RunContext, target: str, kind: RequestKind, goal: str | None
) -> _Checked:
    """One database's pre-flight and plan (a restore's: the backup and where it is now)."""
    handle = context.target(target)
    if kind is RequestKind.RESTORE:
        report, plan, fingerprint = _restore_preflight(
            handle, goal or "", context.store, context.clock
        )
        return _Checked(report, plan, fingerprint, handle, goal)
    direction = Direction.UP if kind is RequestKind.UPGRADE else Direction.DOWN
    checks = (*PREFLIGHT_CHECKS, changes_check(context.store))
    learned = learned_rates(context.store, handle.name)

    def preflight(to: str | None) -> Report:
        return run_preflight(
            handle,
            to=to,
            direction=direction,
            clock=context.clock,
            open_other=context.target,
            checks=checks,
            learned=learned,
            schema_cache=replay_cache(context.config),
        )

    report = preflight(goal)
    stop = stop_before(report) if goal in (None, HEAD, HEADS) else None
    if stop is not None:  # a change holds later revisions back: the upgrade stops before them
        report = preflight(stop)
    if report.plan is None:
        failed = [r.summary for r in report.results if r.verdict is Verdict.FAIL]
        raise ProposalError(f"cannot plan {kind.value} on {target}: {'; '.join(failed)}")
    return _Checked(report, report.plan, fingerprint_plan(report.plan), handle, stop or goal)


def _check_members(context: RunContext, target: str, ask: FleetAsk) -> _Checked:
    """A fleet's set pre-flight and plan: each member's, summarised once."""
    planned = plan_fleet(
        context.config,
        target=target,
        ask=ask,
        open_target=context.open_target,
        clock=context.clock,
        store=context.store,
    )
    return _Checked(planned.report, planned.plan, planned.fingerprint, goal=ask.goal)


def preflight_summary(report: Report) -> str:
    """One line: the verdict and the checks that were not a plain pass."""
    notable = [
        f"{r.name}: {r.summary}"
        for r in report.results
        if r.verdict not in (Verdict.PASS, Verdict.SKIP)
    ]
    head = {
        Verdict.PASS: "all checks passed",
        Verdict.WARN: "passed with warnings",
        Verdict.FAIL: "failed",
    }
    return "; ".join([head.get(report.verdict, report.verdict.value), *notable])[:500]


def _with_rehearsal(
    handle: TargetHandle,
    *,
    report: Report,
    plan: Plan,
    store: EventStore,
    request_id: str,
    clock: Clock,
) -> Report:
    """The report with a ``rehearsal`` check: backed up now, rehearsed on a restored copy."""
    try:
        record = take_backup(
            handle,
            store=store,
            actor=BOT_ACTOR,
            request_id=request_id,
            clock=clock,
            version_table=plan.version_table,
            planned_current=plan.current,
        )
        rehearsal = rehearse(
            handle, plan, make_scratch=lambda: scratch_from_backup(handle, record), clock=clock
        )
        check = rehearsal.as_check(max_duration=handle.config.max_duration, now=clock())
        rehearsed = scored(  # the copy is the target's data on its server: what it took teaches
            recorded_forecast(r.to_json() for r in report.results),
            [(step.revision, step.duration_s) for step in rehearsal.steps],
            source="rehearsal",
        )
        if rehearsed is not None:
            record_score(
                store, rehearsed, target=handle.name, actor=BOT_ACTOR, request_id=request_id
            )
    except MigrateBotError as exc:
        check = CheckResult("rehearsal", Verdict.FAIL, f"could not rehearse: {exc}")
    return replace(report, results=(*report.results, check))


def _restore_preflight(
    handle: TargetHandle, backup_id: str, store: EventStore, clock: Clock
) -> tuple[Report, Plan, PlanFingerprint]:
    """What a restore would do, as checks: the backup, and where the target is now."""
    started = clock()
    record = find_backup(store, handle.name, backup_id)
    with AlembicRunner.for_target(handle).session() as session:
        planned = plan_request(
            handle, session, kind=RequestKind.RESTORE, goal=record.id, store=store
        )
    now = revisions_text(planned.plan.current)
    then = revisions_text(record.revisions)
    results = (
        CheckResult("backup", Verdict.PASS, _describe_backup(record)),
        CheckResult(
            "restore",
            Verdict.WARN,
            f"{handle.name} is at {now}; restoring puts every table back as it was at {then}"
            " (rows written since the backup are lost; stop the application first)",
        ),
    )
    report = Report(
        phase=Phase.PREFLIGHT,
        target=handle.name,
        results=results,
        started_at=started,
        duration_s=(clock() - started).total_seconds(),
        plan=planned.plan,
    )
    return report, planned.plan, planned.fingerprint


def _describe_backup(record: BackupRecord) -> str:
    revisions = ", ".join(record.revisions) or "base"
    return (
        f"backup {record.id} of {record.created_at[:19].replace('T', ' ')} UTC at {revisions},"
        f" {format_bytes(record.size)}, sha256 {record.sha256[:12]}…, {record.uri}"
    )
