"""The drift sweep: every database of a target checked with no request.

A single target is one database; a fleet is each of its members (one Alembic
child reads the project, then each member's version table is one query, and
members at one revision share one replay). The daily sweep runs it at each
target's ``drift_schedule``; ``migrate-bot drift TARGET`` runs it now. What it
finds goes to the log (``commands/schema/drift_log.py``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from audit.store import Clock, utc_now
from commands.config.targets_file import Config, TargetConfig
from commands.errors import MigrateBotError
from commands.migration.planning import member_state
from commands.migration.runtime.runner import AlembicRunner, ProjectState
from commands.pipeline.context import RunContext
from commands.schema.drift import measure_drift
from commands.schema.drift_log import DriftCheck, record_checks
from commands.schema.drift_report import DriftReport, DriftState
from commands.schema.replay_cache import ReplayCache, replay_cache
from commands.targets import TargetHandle, TargetOpener, fleet_members, open_target

log = logging.getLogger(__name__)


def sweep_target(
    config: Config,
    name: str,
    *,
    environ: Mapping[str, str] = os.environ,
    opener: TargetOpener | None = None,
    fresh: bool = False,
    clock: Clock = utc_now,
) -> list[DriftReport]:
    """Drift of target ``name``, or of each member of fleet ``name``, in members' order.

    ``opener`` opens a database (default: from ``environ``, where a fleet's members
    are read too). A database that cannot be opened is an ``UNKNOWN`` report; raises
    ``UnknownTargetError`` and ``ConfigError`` (a fleet's members unreadable).
    """
    target = config.target(name)
    opener = opener or (lambda chosen: open_target(chosen, environ))
    sweep = _Sweep(replay_cache(config), opener, fresh, clock)
    if target.fleet is None:
        return [sweep.check(target, None)[0]]
    reports: list[DriftReport] = []
    project: ProjectState | None = None
    for member in fleet_members(target, environ):
        report, state = sweep.check(config.target(f"{name}.{member}"), project)
        reports.append(report)
        project = project or state
    return reports


@dataclass(frozen=True)
class _Sweep:
    cache: ReplayCache
    opener: TargetOpener
    fresh: bool
    clock: Clock

    def check(
        self, target: TargetConfig, project: ProjectState | None
    ) -> tuple[DriftReport, ProjectState | None]:
        """One database's drift, and the project as it read it (for the next member)."""
        try:
            handle = self.opener(target)
            state = _state(handle, project)
        except MigrateBotError as exc:
            report = DriftReport(target.name, DriftState.UNKNOWN, (), self.clock(), error=str(exc))
            return report, None
        report = measure_drift(handle, state, cache=self.cache, fresh=self.fresh, clock=self.clock)
        return report, state


def _state(handle: TargetHandle, project: ProjectState | None) -> ProjectState:
    """Where ``handle`` stands: through a child, or from the project a member before it read."""
    if project is None:
        return AlembicRunner.for_target(handle).inspect()
    return member_state(handle, project)[0]


def fleet_summary(fleet: str, checks: list[DriftCheck]) -> str:
    """ "2 of 40 members drifted: t07 (1 difference), t23 (3)"."""
    drifted = [c for c in checks if c.report.state is DriftState.DRIFTED]
    unknown = [c for c in checks if c.report.state is DriftState.UNKNOWN]
    parts = []
    for index, check in enumerate(drifted):
        count = len(check.report.differences)
        noun = (" difference" if count == 1 else " differences") if index == 0 else ""
        parts.append(f"{_member(fleet, check.report.target)} ({count}{noun})")
    text = f"{len(drifted)} of {len(checks)} members drifted"
    text += f": {', '.join(parts)}" if parts else ""
    if unknown:
        names = ", ".join(_member(fleet, c.report.target) for c in unknown)
        text += f"; not checked: {names}"
    return text


def _member(fleet: str, target: str) -> str:
    return target.removeprefix(f"{fleet}.")


class DriftNotices(Protocol):
    """What the front tells the ops channel when a sweep finds drift changed."""

    def drift_changed(self, target: str, changed: list[DriftCheck], summary: str | None) -> None:
        """``changed``: the databases whose drift differs from their last check; ``summary``:
        a fleet's one line over all its members (None for a single target)."""


@dataclass(frozen=True)
class SweepRunner:
    """The daily sweep of one bot: check, record, tell the front what changed."""

    context: RunContext
    notices: DriftNotices
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def sweep(self, name: str) -> list[DriftCheck]:
        context = self.context
        reports = sweep_target(
            context.config,
            name,
            environ=self.environ,
            opener=context.open_target,
            clock=context.clock,
        )
        checks = record_checks(context.store, reports, actor=context.actor)
        changed = [check for check in checks if _news(check)]
        if changed:
            fleet = context.config.target(name).fleet is not None
            summary = fleet_summary(name, checks) if fleet else None
            self.notices.drift_changed(name, changed, summary)
        return checks


def _news(check: DriftCheck) -> bool:
    """A change to tell: not the first check of a database that is OK (nothing changed)."""
    first_and_ok = check.previous is None and check.report.state is DriftState.OK
    return check.changed and not first_and_ok


SWEEP_PREFIX = "drift:"


def plan_sweeps(scheduler: BaseScheduler, key: str, config: Config) -> None:
    """One recurring job per target with a ``drift_schedule``; other sweep jobs go."""
    wanted = {name: t.drift.schedule for name, t in config.targets.items() if t.drift.schedule}
    for job in scheduler.get_jobs():
        if job.id.startswith(SWEEP_PREFIX) and job.id.removeprefix(SWEEP_PREFIX) not in wanted:
            job.remove()
    for name, schedule in wanted.items():
        window = schedule.window
        trigger = CronTrigger(
            day_of_week=",".join(str(day) for day in sorted(window.weekdays)),
            hour=window.start.hour,
            minute=window.start.minute,
            timezone=window.zone,
        )
        scheduler.add_job(
            fire_sweep,
            trigger,
            args=[key, name],
            id=f"{SWEEP_PREFIX}{name}",
            name=f"drift sweep of {name} ({schedule.text})",
            replace_existing=True,
        )


SWEEPERS: dict[str, SweepRunner] = {}
"""The sweep runner of each running scheduler (by its key): jobs name the key, not the runner."""


def fire_sweep(key: str, target: str) -> None:
    """The job function APScheduler stores (by reference, so it must stay here)."""
    runner = SWEEPERS.get(key)
    if runner is None:
        log.warning("drift sweep of %s fired with no sweeper for %s", target, key)
        return
    try:
        runner.sweep(target)
    except MigrateBotError as exc:  # a config that no longer names it, members unreadable
        log.warning("drift sweep of %s could not run: %s", target, exc)
