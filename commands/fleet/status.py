"""Where a target stands: its database, or a fleet's members (how many at each revision,
which are behind, which cannot be reached).

The project is read once (one Alembic child: the graph, the version table);
each member's revisions then from its version table, a few members at a time
(``revisions``). A member that cannot be read is listed as unreachable with the
reason, never an exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from commands.config.fleet import member_target_name
from commands.config.targets_file import Config, TargetConfig
from commands.errors import MigrateBotError
from commands.fleet.member_status import SURVEY_PARALLEL, FleetStatus, MemberStatus
from commands.migration.planning import project_state, status
from commands.migration.runtime.runner import ProjectState
from commands.migration.script.plan import Status
from commands.targets import TargetHandle, fleet_members

Opener = Callable[[TargetConfig], TargetHandle]


def fleet_status(config: Config, fleet: TargetConfig, open_target: Opener) -> FleetStatus:
    """Every member's status (raises ``ConfigError`` when the members cannot be read)."""
    names = list(fleet_members(fleet))
    project: list[ProjectState] = []
    lock = threading.Lock()

    def read(member: str) -> MemberStatus:
        try:
            handle = open_target(config.target(member_target_name(fleet.name, member)))
            with lock:  # the first member that answers reads the project for all
                if not project:
                    project.append(project_state(handle))
            return MemberStatus(member, status(handle, project[0]))
        except MigrateBotError as exc:
            return MemberStatus(member, None, str(exc))

    with ThreadPoolExecutor(min(SURVEY_PARALLEL, max(len(names), 1))) as pool:
        return FleetStatus(fleet.name, tuple(pool.map(read, names)))


def target_status(
    config: Config, target: TargetConfig, open_target: Opener
) -> Status | FleetStatus:
    """``target``'s status as ``/migrate status`` and ``migrate-bot status`` show it: its
    database's, or each of its members'. Raises as ``status`` does, and ``ConfigError``
    when a fleet's members cannot be read."""
    if target.is_fleet:
        return fleet_status(config, target, open_target)
    return status(open_target(target))
