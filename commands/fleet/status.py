"""Where a fleet's members stand: how many at each revision, which are behind, which
cannot be reached.

Each member's status is the single target's (its database, then the project's
heads through the Alembic child), a few members at a time; a member that
cannot be read is listed as unreachable with the reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from commands.config.fleet import member_target_name
from commands.config.targets_file import Config, TargetConfig
from commands.errors import MigrateBotError
from commands.fleet.survey import SURVEY_PARALLEL
from commands.migration.planning import status
from commands.migration.script.plan import Status
from commands.targets import TargetHandle, fleet_members

Opener = Callable[[TargetConfig], TargetHandle]


@dataclass(frozen=True)
class MemberStatus:
    """One member: its status, or why it could not be read."""

    name: str
    status: Status | None
    error: str | None = None


@dataclass(frozen=True)
class FleetStatus:
    """Every member's status, in the fleet's order, and the project's heads."""

    target: str
    members: tuple[MemberStatus, ...]

    @property
    def heads(self) -> tuple[str, ...]:
        return next((m.status.heads for m in self.members if m.status), ())

    @property
    def by_revision(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(revisions, members at them), the most common first."""
        found: dict[tuple[str, ...], list[str]] = {}
        for member in self.members:
            if member.status is not None:
                found.setdefault(member.status.current, []).append(member.name)
        return sorted(((rev, tuple(names)) for rev, names in found.items()), key=_most)

    @property
    def behind(self) -> tuple[MemberStatus, ...]:
        return tuple(m for m in self.members if m.status is not None and not m.status.at_head)

    @property
    def unreachable(self) -> tuple[MemberStatus, ...]:
        return tuple(m for m in self.members if m.status is None)

    @property
    def at_head(self) -> int:
        return sum(1 for m in self.members if m.status is not None and m.status.at_head)


def _most(entry: tuple[tuple[str, ...], tuple[str, ...]]) -> tuple[int, tuple[str, ...]]:
    return (-len(entry[1]), entry[0])


def fleet_status(config: Config, fleet: TargetConfig, open_target: Opener) -> FleetStatus:
    """Every member's status (raises ``ConfigError`` when the members cannot be read)."""
    names = list(fleet_members(fleet))

    def read(member: str) -> MemberStatus:
        try:
            handle = open_target(config.target(member_target_name(fleet.name, member)))
            return MemberStatus(member, status(handle))
        except MigrateBotError as exc:
            return MemberStatus(member, None, str(exc))

    with ThreadPoolExecutor(min(SURVEY_PARALLEL, max(len(names), 1))) as pool:
        return FleetStatus(fleet.name, tuple(pool.map(read, names)))
