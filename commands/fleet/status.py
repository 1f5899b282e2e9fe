"""Where a fleet's members stand: how many at each revision, which are behind, which
cannot be reached.

Each member's status is the single target's (its database, then the project's
heads through the Alembic child), a few members at a time; a member that
cannot be read is listed as unreachable with the reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from commands.config.fleet import member_target_name
from commands.config.targets_file import Config, TargetConfig
from commands.errors import MigrateBotError
from commands.fleet.member_status import FleetStatus, MemberStatus
from commands.fleet.survey import SURVEY_PARALLEL
from commands.migration.planning import status
from commands.targets import TargetHandle, fleet_members

Opener = Callable[[TargetConfig], TargetHandle]


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
