"""What a fleet run tells its watchers as it goes, and how it ended. Plain data.

Member runs report ``RunUpdate``s as any run does; the fleet run turns the few
that matter to a watcher (a member started, a revision done, a member ended)
into ``FleetUpdate``s, so a front redraws one picture, not one per member. A
``FleetOutcome`` is a ``RunOutcome`` (every sink of outcomes takes it) with
each member's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from commands.pipeline.progress import RunOutcome
from commands.state.vocabulary import MemberState


class FleetUpdateKind(StrEnum):
    WAVE_STARTED = "wave_started"
    MEMBER_STARTED = "member_started"
    MEMBER_PROGRESS = "member_progress"  # a step or a revision of a member ended
    MEMBER_ENDED = "member_ended"  # succeeded, failed, aborted or skipped
    WAVE_FINISHED = "wave_finished"
    STOPPING = "stopping"  # no new member starts (max_failures, Stop, a deadline, a freeze)


@dataclass(frozen=True)
class FleetUpdate:
    """One piece of news from a fleet run; ``member`` is the member's name, if any."""

    request_id: str
    target: str
    kind: FleetUpdateKind
    message: str
    at: datetime
    wave: int | None = None
    member: str | None = None
    state: MemberState | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberOutcome:
    """How one member's turn ended."""

    name: str
    state: MemberState
    wave: int | None
    from_revisions: tuple[str, ...]
    database_revisions: tuple[str, ...] | None
    failed_step: str | None = None
    error: str | None = None
    backup_id: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class FleetOutcome(RunOutcome):
    """A fleet run's outcome: the run's, plus each member's, in run order."""

    members: tuple[MemberOutcome, ...] = ()

    def of_state(self, *states: MemberState) -> tuple[MemberOutcome, ...]:
        return tuple(m for m in self.members if m.state in states)

    @property
    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for member in self.members:
            counted[member.state.value] = counted.get(member.state.value, 0) + 1
        return counted
