"""A fleet's set plan: an ask ("upgrade tenants to head") planned over its members.

Every member gets its pre-flight (a few at a time); they are grouped by where
they start; the distinct revisions are linted and forecast once, sized
against the largest member; the set's fingerprint binds the members, each one's starting
revision and the revision files. Intake records it as one request with the
set's pre-flight, which an approver judges once for all members.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from audit.store import Clock, EventStore, utc_now
from commands.checks import CheckResult, Report, Verdict
from commands.checks.forecast.learned import learned_rates
from commands.config.targets_file import Config, TargetConfig
from commands.errors import ConfigError
from commands.fleet.set_checks import largest, set_report, size_text
from commands.fleet.set_plan import distinct_revisions, groups, set_fingerprint
from commands.fleet.set_sized import sized_set_checks
from commands.fleet.survey import MemberSurvey, survey_members
from commands.migration.script.fingerprint import PlanFingerprint
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction
from commands.requests import NothingToDoError, ProposalError
from commands.state.vocabulary import RequestKind
from commands.targets import TargetOpener, fleet_members, open_target


@dataclass(frozen=True)
class FleetAsk:
    """What is asked of a fleet: all its members to one goal, or some of them (a way back),
    each to a goal of its own."""

    kind: RequestKind
    goal: str | None
    members: Sequence[str] | None = None  # default: every member, in the fleet's order
    goals: Mapping[str, str] | None = None  # a member's own goal, over ``goal``


@dataclass(frozen=True)
class FleetPlan:
    """A fleet ask planned: each member's survey, the set's fingerprint, the plan of its
    distinct revisions (with their SQL) and the set's pre-flight."""

    surveys: tuple[MemberSurvey, ...]
    fingerprint: PlanFingerprint
    plan: Plan
    report: Report


def plan_fleet(
    config: Config,
    *,
    target: str,
    ask: FleetAsk,
    open_target: TargetOpener = open_target,
    clock: Clock = utc_now,
    checks: bool = True,
    sql: bool = False,
    store: EventStore | None = None,
) -> FleetPlan:
    """Survey and plan a fleet ask, recording nothing. ``checks=False``: plans only (no
    pre-flight checks, no lint, no forecast; the SQL only with ``sql``), as the terminal's
    break-glass run does before its members' own pre-flights. ``store``: the audit log
    whose scored runs teach the forecast its rates. Raises ``ProposalError``
    (no member could be planned), ``NothingToDoError`` (every member is there already),
    ``ConfigError``."""
    if ask.kind is RequestKind.RESTORE:
        raise ProposalError(
            f"{target} is a fleet: restore one member's backup with `restore {target}.MEMBER ID`"
        )
    fleet = config.target(target)
    names = _members(fleet, ask)
    direction = Direction.UP if ask.kind is RequestKind.UPGRADE else Direction.DOWN
    started_at, started = clock(), time.monotonic()
    surveys = survey_members(
        config,
        fleet,
        names,
        open_target=open_target,
        clock=clock,
        direction=direction,
        goal_of=lambda member: (ask.goals or {}).get(member, ask.goal),
        checks=checks,
        sql=sql,
    )
    planned = [(s.name, s.report.plan) for s in surveys if s.report and s.report.plan]
    if not planned:
        raise ProposalError(f"cannot plan {ask.kind.value} on {target}: {_why_not(surveys)}")
    fingerprint = set_fingerprint(target, direction, planned)
    if not fingerprint.revisions:
        where = ", ".join(fingerprint.to_revisions) or "base"
        if len(planned) == len(surveys):
            raise NothingToDoError(target, f"{where} on all {len(planned)} member(s)")
        unplanned = [s for s in surveys if not (s.report and s.report.plan)]
        raise ProposalError(
            f"every member of {target} that could be checked is at {where};"
            f" {len(unplanned)} could not be: {_why_not(unplanned)}"
        )
    plan = _set_plan(target, direction, planned, fingerprint.to_revisions)
    report = set_report(
        target,
        surveys,
        groups=groups(fingerprint),
        plan=plan,
        sized=_sized(surveys, plan, store) if checks else (),
        started_at=started_at,
        duration_s=time.monotonic() - started,
    )
    return FleetPlan(tuple(surveys), fingerprint, plan, report)


def _members(fleet: TargetConfig, ask: FleetAsk) -> list[str]:
    """The members asked for, in the fleet's order; raises ``ConfigError`` for a member the
    fleet no longer lists."""
    listed = list(fleet_members(fleet))
    if ask.members is None:
        return listed
    gone = [m for m in ask.members if m not in listed]
    if gone:
        raise ConfigError(
            f"${fleet.fleet.members_env}" if fleet.fleet else fleet.name,
            f"targets.{fleet.name}.members_env",
            f"no longer lists {', '.join(gone)}: ask again for the members it has",
        )
    wanted = set(ask.members)
    return [m for m in listed if m in wanted]


def _set_plan(
    target: str,
    direction: Direction,
    planned: Sequence[tuple[str, Plan]],
    destination: tuple[str, ...],
) -> Plan:
    """One plan of every distinct revision with its SQL: what View SQL shows, once."""
    sql: dict[str, str] = {}
    for _, plan in planned:
        sql.update({rev: text for rev, text in plan.sql.items() if rev not in sql})
    return Plan(
        target=target,
        direction=direction,
        current=(),
        destination=destination,
        revisions=distinct_revisions(planned),
        sql=sql,
    )


def _sized(
    surveys: Sequence[MemberSurvey], plan: Plan, store: EventStore | None
) -> list[CheckResult]:
    biggest = largest(surveys)
    if biggest is None or biggest.handle is None or not plan.revisions:
        return []
    learned = learned_rates(store, biggest.handle.name) if store is not None else None
    return sized_set_checks(
        biggest.handle, plan, member=biggest.name, size=size_text(biggest), learned=learned
    )


def _why_not(surveys: Sequence[MemberSurvey]) -> str:
    """Why no member could be planned: the first few failures, by member."""
    reasons = []
    for survey in surveys[:3]:
        if survey.report is None:
            reasons.append(f"{survey.name}: {survey.error}")
            continue
        failed = [r.summary for r in survey.report.results if r.verdict is Verdict.FAIL]
        reasons.append(f"{survey.name}: {'; '.join(failed) or 'no plan'}")
    return "; ".join(reasons)
