"""Pre-flight on every member of a fleet, a few at a time: where each stands, what it runs.

Each member gets the single target's pre-flight (connectivity, Alembic, the
plan with its SQL, review, disk, sessions, locks…) but for the lint, which
runs once for the whole set (``set_lint``). An unreadable member is a failed
survey with the reason, never an exception: the approver sees it by name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from audit.store import Clock
from commands.checks import CheckResult, Phase, Report, Verdict, run_preflight
from commands.config.fleet import member_target_name
from commands.config.targets_file import Config, TargetConfig
from commands.errors import MigrateBotError
from commands.migration.planning import plan
from commands.migration.script.revision_graph import Direction
from commands.targets import TargetHandle, TargetOpener

SURVEY_PARALLEL = 8  # members checked at once (read-only: a connection and a child each)


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


def survey_members(
    config: Config,
    fleet: TargetConfig,
    members: Sequence[str],
    *,
    open_target: TargetOpener,
    clock: Clock,
    direction: Direction,
    goal_of: Callable[[str], str | None],
    checks: bool = True,
    sql: bool = False,
) -> list[MemberSurvey]:
    """Each member's pre-flight toward its goal, in ``members``' order (``checks=False``:
    its plan only, with its SQL when ``sql``, as a report of the ``alembic`` gate)."""

    def survey(member: str) -> MemberSurvey:
        try:
            handle = open_target(config.target(member_target_name(fleet.name, member)))
        except MigrateBotError as exc:
            return MemberSurvey(member, None, str(exc))
        if not checks:
            made = _plan_only(handle, goal_of(member), direction, clock, sql=sql)
            return MemberSurvey(member, made, handle=handle)
        report = run_preflight(
            _without_lint(handle),
            to=goal_of(member),
            direction=direction,
            clock=clock,
            open_other=lambda name: open_target(config.target(name)),
        )
        return MemberSurvey(member, report, handle=handle)

    with ThreadPoolExecutor(min(SURVEY_PARALLEL, max(len(members), 1))) as pool:
        return list(pool.map(survey, members))


def _plan_only(
    handle: TargetHandle, goal: str | None, direction: Direction, clock: Clock, *, sql: bool
) -> Report:
    """A report of one ``alembic`` result and the plan, or why it cannot plan."""
    started_at, started = clock(), time.monotonic()
    try:
        made = plan(handle, direction=direction, to=goal, with_sql=sql)
    except MigrateBotError as exc:
        made, result = None, CheckResult("alembic", Verdict.FAIL, str(exc))
    else:
        result = CheckResult("alembic", Verdict.PASS, f"{len(made.revisions)} revision(s) to run")
    return Report(
        phase=Phase.PREFLIGHT,
        target=handle.name,
        results=(result,),
        started_at=started_at,
        duration_s=time.monotonic() - started,
        plan=made,
    )


def _without_lint(handle: TargetHandle) -> TargetHandle:
    """The member's pre-flight skips the lint: the set's lint runs once, on the largest."""
    checks = handle.config.checks
    config = replace(handle.config, checks=replace(checks, skip=checks.skip | {"lint"}))
    return replace(handle, config=config)
