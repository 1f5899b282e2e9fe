"""Pre-flight on every member of a fleet, a few at a time: where each stands, what it runs.

One Alembic child reads the project (graph, version table) and renders each
group's SQL preview once: members at the same revision going to the same goal
share one plan. Each member then gets the single target's pre-flight on that
plan (connectivity, Alembic, review, disk, sessions, locks…) over a plain
connection, but for the lint and the forecast, which run once for the
whole set (``set_sized``). An unreadable member is a failed survey with the reason, never
an exception: the approver sees it by name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from audit.store import Clock
from commands.checks import CheckResult, Phase, Report, Verdict, run_preflight
from commands.checks.preflight import PREFLIGHT_CHECKS
from commands.config.fleet import member_target_name
from commands.config.targets_file import Config, TargetConfig
from commands.errors import MigrateBotError
from commands.fleet.member_status import SURVEY_PARALLEL
from commands.migration.planning import member_state, plan_in_session, project_state
from commands.migration.runtime.runner import AlembicRunner, AlembicSession, ProjectState
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction
from commands.schema.replay_cache import ReplayCache, replay_cache
from commands.targets import TargetHandle, TargetOpener

SET_CHECKS = ("lint", "forecast")
"""Run once for the set, sized against its largest member (``set_sized``), not per member."""
MEMBER_CHECKS = tuple(check for check in PREFLIGHT_CHECKS if check.name not in SET_CHECKS)
GoalOf = Callable[[str], str | None]


@dataclass(frozen=True)
class MemberSurvey:
    """One member's pre-flight, or why it could not be opened; and its handle."""

    name: str
    report: Report | None
    error: str | None = None
    handle: TargetHandle | None = None

    @property
    def database_bytes(self) -> int:
        """Its size as the disk check measured it (0 when unknown)."""
        if self.report is None:
            return 0
        for result in self.report.results:
            if result.name == "disk":
                return int(result.data.get("database_bytes") or 0)
        return 0


@dataclass
class _Plans:
    """One plan per (starting revisions, goal), made in one child and shared."""

    session: AlembicSession
    project: ProjectState
    direction: Direction
    sql: bool
    made: dict[tuple[tuple[str, ...], str | None], Plan] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one child, one ask at a time

    def plan(self, state: ProjectState, goal: str | None, target: str) -> Plan:
        key = (state.current, goal)
        with self.lock:
            if key not in self.made:
                self.made[key] = plan_in_session(
                    self.session,
                    target,
                    direction=self.direction,
                    to=goal,
                    state=state,
                    with_sql=self.sql,
                )
            made = self.made[key]
        return replace(made, target=target)


def survey_members(
    config: Config,
    fleet: TargetConfig,
    members: Sequence[str],
    *,
    open_target: TargetOpener,
    clock: Clock,
    direction: Direction,
    goal_of: GoalOf,
    checks: bool = True,
    sql: bool = False,
) -> list[MemberSurvey]:
    """Each member's pre-flight toward its goal, in ``members``' order (``checks=False``:
    its plan only, with its SQL when ``sql``, as a report of the ``alembic`` gate)."""
    handles: dict[str, TargetHandle | MigrateBotError] = {}
    for member in members:
        try:
            handles[member] = open_target(config.target(member_target_name(fleet.name, member)))
        except MigrateBotError as exc:
            handles[member] = exc
    opened = [h for h in handles.values() if isinstance(h, TargetHandle)]
    if not opened:
        return [MemberSurvey(m, None, str(handles[m])) for m in members]
    try:
        project = project_state(opened[0])
    except MigrateBotError as exc:  # the project itself cannot be read: every member says so
        return [_unplanned(m, h, str(exc), clock) for m, h in handles.items()]
    with AlembicRunner.for_target(opened[0]).session() as session:
        plans = _Plans(session, project, direction, sql or checks)
        survey = _Survey(plans, goal_of, clock, checks, replay_cache(config))
        with ThreadPoolExecutor(min(SURVEY_PARALLEL, len(members))) as pool:
            return list(pool.map(lambda m: survey.member(m, handles[m]), members))


@dataclass
class _Survey:
    plans: _Plans
    goal_of: GoalOf
    clock: Clock
    checks: bool
    schema_cache: ReplayCache

    def member(self, name: str, handle: TargetHandle | MigrateBotError) -> MemberSurvey:
        if not isinstance(handle, TargetHandle):
            return MemberSurvey(name, None, str(handle))
        goal = self.goal_of(name)
        try:
            state, _ = member_state(handle, self.plans.project)
            plan = self.plans.plan(state, goal, handle.name)
        except MigrateBotError as exc:
            if not self.checks:
                return _unplanned(name, handle, str(exc), self.clock)
            report = run_preflight(  # it says why, as for a single target
                handle,
                to=goal,
                direction=self.plans.direction,
                clock=self.clock,
                checks=MEMBER_CHECKS,
                schema_cache=self.schema_cache,
            )
            return MemberSurvey(name, report, handle=handle)
        if not self.checks:
            return MemberSurvey(name, _alembic_only(handle.name, plan, self.clock), handle=handle)
        report = run_preflight(
            handle,
            to=goal,
            direction=self.plans.direction,
            clock=self.clock,
            checks=MEMBER_CHECKS,
            known=(state, plan),
            schema_cache=self.schema_cache,
        )
        return MemberSurvey(name, report, handle=handle)


def _alembic_only(target: str, plan: Plan | None, clock: Clock, error: str = "") -> Report:
    """A report of the ``alembic`` gate alone: the plan, or why there is none."""
    if plan is None:
        result = CheckResult("alembic", Verdict.FAIL, error)
    else:
        result = CheckResult("alembic", Verdict.PASS, f"{len(plan.revisions)} revision(s) to run")
    return Report(
        phase=Phase.PREFLIGHT,
        target=target,
        results=(result,),
        started_at=clock(),
        duration_s=0.0,
        plan=plan,
    )


def _unplanned(
    name: str, handle: TargetHandle | MigrateBotError, error: str, clock: Clock
) -> MemberSurvey:
    if not isinstance(handle, TargetHandle):
        return MemberSurvey(name, None, str(handle))
    return MemberSurvey(name, _alembic_only(handle.name, None, clock, error), handle=handle)
