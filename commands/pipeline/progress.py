"""What a run tells its watchers as it goes, and how it ended. Plain data.

The Slack front renders these (live status, thread details, announcements);
the CLI prints them. They carry no secrets: messages are built from ids,
revisions, sizes and error texts that have already been redacted.

A run on one database reports ``RunUpdate``s. A run on a fleet's members
turns the few of its members' updates that matter to a watcher (a member
started, a revision done, a member ended) into ``FleetUpdate``s, so a front
redraws one picture, not one per member; its ``FleetOutcome`` is a
``RunOutcome`` (every sink of outcomes takes it) with each member's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from commands.checks.forecast.scoring import Score
from commands.state.vocabulary import MemberState, RequestState


class RunStep(StrEnum):
    """The pipeline's steps, in the order a run goes through them."""

    BEFORE_RUN = "before_run"  # the target's hooks, e.g. freeze deployments
    PREFLIGHT = "preflight"
    BACKUP = "backup"
    APPLY = "apply"
    RESTORE = "restore"
    VERIFY = "verify"
    AFTER_RUN = "after_run"  # whatever the outcome, e.g. resume deployments


class UpdateKind(StrEnum):
    STARTED = "started"  # a step began
    PROGRESS = "progress"  # news within a step (bytes dumped, an attempt, a blocker)
    REVISION_DONE = "revision_done"  # one revision applied or undone
    SUCCEEDED = "succeeded"  # a step ended well
    FAILED = "failed"  # a step failed (the run fails with it)


@dataclass(frozen=True)
class RunUpdate:
    """One piece of news from a running request."""

    request_id: str
    target: str
    step: RunStep
    kind: UpdateKind
    message: str
    at: datetime
    revision: str | None = None
    index: int | None = None  # 1-based position of ``revision`` in the plan
    total: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RollbackOffer:
    """A way back after a failed or aborted run; taking it is a new request to approve."""

    kind: str  # "downgrade" | "restore"
    goal: str  # the revision to go back to, or the backup id
    description: str


@dataclass(frozen=True)
class AppliedRevision:
    revision: str
    message: str
    duration_s: float


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, with everything an announcement needs."""

    request_id: str
    target: str
    kind: str
    state: RequestState  # succeeded, failed or aborted
    failed_step: RunStep | None
    error: str | None
    started_at: datetime
    finished_at: datetime
    from_revisions: tuple[str, ...]
    planned_revisions: tuple[str, ...]
    database_revisions: tuple[str, ...] | None  # what the database holds now, if readable
    applied: tuple[AppliedRevision, ...] = ()
    backup: dict[str, Any] | None = None  # id, uri, size, sha256 of the pre-run backup
    verification: tuple[str, ...] = ()  # one line per check, for the thread
    leftovers: tuple[str, ...] = ()  # what a failed revision left behind, with fixes
    rollback: tuple[RollbackOffer, ...] = ()
    forecast: Score | None = None  # each revision that ran beside its forecast
    schema: str | None = None  # what the run did to the schema: "2 tables changed, …"

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def succeeded(self) -> bool:
        return self.state is RequestState.SUCCEEDED


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


Update = RunUpdate | FleetUpdate
"""What a run's watcher is told: a database's news, or a fleet's."""


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
