"""A run as the live status shows it: each step's state, revisions done, the blocker; a
fleet's run as its wave, counts per state and who is slowest.

The steps come from the request itself (the pipeline records each step in
the audit log before it starts), so the picture is the same after a restart
and cannot disagree with the log. What the log does not keep (bytes dumped
so far, who blocks a lock right now) comes from the run's updates as
``RunNews``, held in memory while the run lasts. A fleet's picture is drawn
from the request alone (its members folded from the log); the number of waves
comes from the target's config. Pure functions and data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from commands.pipeline.progress import RunStep, RunUpdate, UpdateKind
from commands.requests.members import MemberRun
from commands.requests.model import Request
from commands.state.vocabulary import MemberState, RequestKind, RequestState, StepStatus

STEPS = {
    RequestKind.UPGRADE: (RunStep.PREFLIGHT, RunStep.BACKUP, RunStep.APPLY, RunStep.VERIFY),
    RequestKind.DOWNGRADE: (RunStep.PREFLIGHT, RunStep.BACKUP, RunStep.APPLY, RunStep.VERIFY),
    RequestKind.RESTORE: (RunStep.BACKUP, RunStep.RESTORE),
}
STEP_NAMES = {
    RunStep.PREFLIGHT: "Pre-flight",
    RunStep.BACKUP: "Backup",
    RunStep.APPLY: "Revisions",
    RunStep.RESTORE: "Restore",
    RunStep.VERIFY: "Verify",
}


class StepState(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class StepLine:
    step: RunStep
    state: StepState
    detail: str = ""

    @property
    def name(self) -> str:
        return STEP_NAMES[self.step]


@dataclass(frozen=True)
class RunNews:
    """What only the updates tell: the latest progress line and the current blocker."""

    progress: str | None = None
    blocker: str | None = None

    def after(self, update: RunUpdate) -> RunNews:
        """The news once ``update`` has come in."""
        if update.kind is UpdateKind.PROGRESS:
            if update.data.get("event") == "blocked":
                blocked = bool(update.data.get("blockers"))
                return replace(self, blocker=update.message if blocked else None)
            return replace(self, progress=update.message)
        if update.kind in (UpdateKind.STARTED, UpdateKind.REVISION_DONE):
            return RunNews()
        return replace(self, blocker=None)


@dataclass(frozen=True)
class RunPicture:
    started_at: datetime
    finished_at: datetime | None
    steps: tuple[StepLine, ...]
    revisions_done: int
    revisions_total: int
    current_revision: str | None
    news: RunNews

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def elapsed_s(self, now: datetime) -> float:
        return ((self.finished_at or now) - self.started_at).total_seconds()


def run_picture(request: Request, news: RunNews | None = None) -> RunPicture | None:
    """The run of ``request`` as it stands, or ``None`` if it never started."""
    run = request.run
    if run is None:
        return None
    order = STEPS[request.kind]
    states = {step: StepLine(step, StepState.WAITING) for step in order}
    done: set[str] = set()
    current: str | None = None
    for recorded in run.steps:
        if recorded.revision is not None:
            if recorded.status is StepStatus.SUCCEEDED:
                done.add(recorded.revision)
                current = None
            elif recorded.status is StepStatus.STARTED:
                current = recorded.revision
            continue
        step = _step(recorded.name)
        if step is not None and step in states:
            states[step] = StepLine(step, _STATE[recorded.status], recorded.detail)
    finished = request.closure.at if request.state.is_final and request.closure else None
    if finished is not None:
        states = _close_running(states, request)
    return RunPicture(
        started_at=run.started_at,
        finished_at=finished,
        steps=tuple(states[step] for step in order),
        revisions_done=len(done),
        revisions_total=len(request.fingerprint.revisions),
        current_revision=None if finished else current,
        news=RunNews() if finished else (news or RunNews()),
    )


_STATE = {
    StepStatus.STARTED: StepState.RUNNING,
    StepStatus.SUCCEEDED: StepState.DONE,
    StepStatus.FAILED: StepState.FAILED,
    StepStatus.SKIPPED: StepState.DONE,
}


def _step(name: str) -> RunStep | None:
    try:
        return RunStep(name)
    except ValueError:
        return None


def _close_running(states: dict[RunStep, StepLine], request: Request) -> dict[RunStep, StepLine]:
    """A step still running when the run ended was cut short: say how."""
    if request.state is RequestState.SUCCEEDED:
        return states
    reason = request.closure.reason if request.closure else ""
    if request.state is RequestState.INTERRUPTED:
        reason = "the bot stopped while this step ran"
    return {
        step: StepLine(step, StepState.FAILED, reason or line.detail)
        if line.state is StepState.RUNNING
        else line
        for step, line in states.items()
    }


@dataclass(frozen=True)
class Slowest:
    """The member running longest now, and where it is."""

    name: str
    seconds: float
    where: str  # its step, or the revision it runs with its position


@dataclass(frozen=True)
class FleetPicture:
    started_at: datetime
    finished_at: datetime | None
    wave: int | None  # the wave running now (or the last one that ran)
    waves_total: int
    total: int
    counts: dict[MemberState, int]
    slowest: Slowest | None

    @property
    def done(self) -> int:
        """Members whose turn ended (succeeded, failed, skipped…)."""
        return sum(n for state, n in self.counts.items() if state.is_final)

    def elapsed_s(self, now: datetime) -> float:
        return ((self.finished_at or now) - self.started_at).total_seconds()


def fleet_picture(request: Request, *, waves_total: int, now: datetime) -> FleetPicture | None:
    """The fleet run of ``request`` as it stands, or ``None`` if it never started (or has
    no members: a single target's)."""
    if request.run is None or not request.members:
        return None
    members = list(request.members.values())
    finished = request.closure.at if request.state.is_final and request.closure else None
    running = [m for m in members if m.state is MemberState.RUNNING]
    return FleetPicture(
        started_at=request.run.started_at,
        finished_at=finished,
        wave=request.waves[-1].number if request.waves else None,
        waves_total=waves_total,
        total=len(members),
        counts=dict(Counter(m.state for m in members)),
        slowest=_slowest(running, now) if finished is None else None,
    )


def _slowest(running: list[MemberRun], now: datetime) -> Slowest | None:
    timed = [m for m in running if m.started_at is not None]
    if not timed:
        return None
    member = min(timed, key=lambda m: m.started_at or now)
    if member.revision_running:
        position = len(member.revisions_done) + 1
        where = f"revision {member.revision_running} ({position}/{len(member.planned)})"
    else:
        where = member.step or "starting"
    return Slowest(member.name, member.duration_s(now) or 0.0, where)
