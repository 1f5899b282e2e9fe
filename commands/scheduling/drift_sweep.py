"""The drift sweep: every database of a target checked with no request.

A single target is one database; a fleet is each of its members (one Alembic
child reads the project, then each member's version table is one query, and
members at one revision share one replay). The daily sweep runs it at each
target's ``drift_schedule``; ``migrate-bot drift TARGET`` runs it now. What it
finds goes to the log (``commands/schema/drift_log.py``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass

from audit.store import Clock, utc_now
from commands.config.targets_file import Config, TargetConfig
from commands.errors import MigrateBotError
from commands.fleet.revisions import member_state
from commands.migration.runtime.runner import AlembicRunner, ProjectState
from commands.schema.drift import measure_drift
from commands.schema.drift_log import DriftCheck
from commands.schema.drift_report import DriftReport, DriftState
from commands.schema.replay_cache import ReplayCache, replay_cache
from commands.targets import TargetHandle, fleet_members, open_target


def sweep_target(
    config: Config,
    name: str,
    *,
    environ: Mapping[str, str] = os.environ,
    fresh: bool = False,
    clock: Clock = utc_now,
) -> list[DriftReport]:
    """Drift of target ``name``, or of each member of fleet ``name``, in members' order.

    A database that cannot be opened is an ``UNKNOWN`` report; raises
    ``UnknownTargetError`` and ``ConfigError`` (a fleet's members unreadable).
    """
    target = config.target(name)
    sweep = _Sweep(replay_cache(config), environ, fresh, clock)
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
    environ: Mapping[str, str]
    fresh: bool
    clock: Clock

    def check(
        self, target: TargetConfig, project: ProjectState | None
    ) -> tuple[DriftReport, ProjectState | None]:
        """One database's drift, and the project as it read it (for the next member)."""
        try:
            handle = open_target(target, self.environ)
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
    current = member_state(handle, project)[0].current
    return dataclasses.replace(project, current=current)


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
