"""A fleet request's members and waves, folded from the member events of its run.

A fleet request is one request over many databases: its plan fingerprint lists
the members (each with its starting revision), and its run records, per
member, ``member_started`` / ``member_step`` / ``member_finished`` (or
``member_skipped``, ``member_interrupted``), each naming the member. This
module folds those into one ``MemberRun`` per member; ``model`` calls it for
the member kinds, so a fleet's state reads from the log like any request's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from audit.chain import Event
from commands.migration.script.fingerprint import PlanFingerprint
from commands.state.vocabulary import EventKind, MemberState, StepStatus

STATE_OF_OUTCOME = {
    "succeeded": MemberState.SUCCEEDED,
    "failed": MemberState.FAILED,
    "aborted": MemberState.ABORTED,
}


@dataclass(frozen=True)
class MemberRun:
    """One member of a fleet request: its plan and how its run went, as recorded."""

    name: str
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    planned: tuple[str, ...]  # the revision ids it runs, in order
    state: MemberState = MemberState.PENDING
    wave: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    step: str | None = None  # the step it is in, or was in when it ended
    revisions_done: tuple[str, ...] = ()
    revision_running: str | None = None
    database_revisions: tuple[str, ...] | None = None  # what its database held at the end
    backup_id: str | None = None
    error: str = ""
    failed_step: str | None = None

    @property
    def revision_now(self) -> tuple[str, ...] | None:
        """The revision(s) its database is at, as far as the log knows."""
        if self.database_revisions is not None:
            return self.database_revisions
        if self.revisions_done:
            return (self.revisions_done[-1],)
        return self.from_revisions if self.state is not MemberState.RUNNING else None

    def duration_s(self, now: datetime) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or now) - self.started_at).total_seconds()


@dataclass(frozen=True)
class WaveRun:
    """One wave of a fleet run: its number (from 1), its members, when it began and ended."""

    number: int
    members: tuple[str, ...]
    started_at: datetime
    finished_at: datetime | None = None


Members = Mapping[str, MemberRun]


def members_of(fingerprint: PlanFingerprint) -> dict[str, MemberRun]:
    """The members a fleet plan runs (those with revisions to run), all pending, in order."""
    return {
        m.name: MemberRun(m.name, m.from_revisions, m.to_revisions, m.revisions)
        for m in fingerprint.members
        if m.revisions
    }


def apply_member_event(members: Members, event: Event, at: datetime) -> Members:
    """``members`` after one member event (an event of another kind changes nothing)."""
    apply = _APPLY.get(event.kind)
    if apply is None:
        return members
    name = event.data.get("member") or (event.target or "").partition(".")[2]
    if name not in members:
        return members
    return {**members, name: apply(members[name], event.data, at)}


def close_members(members: Members, at: datetime) -> Members:
    """The run ended: members whose turn never came did not start."""
    if not any(m.state is MemberState.PENDING for m in members.values()):
        return members
    return {
        name: replace(m, state=MemberState.NOT_STARTED) if m.state is MemberState.PENDING else m
        for name, m in members.items()
    }


def _started(member: MemberRun, data: Mapping[str, Any], at: datetime) -> MemberRun:
    return replace(member, state=MemberState.RUNNING, wave=data.get("wave"), started_at=at)


def _step(member: MemberRun, data: Mapping[str, Any], at: datetime) -> MemberRun:
    revision, status = data.get("revision"), data.get("status")
    if revision is None:
        return replace(member, step=data.get("step"))
    if status == StepStatus.SUCCEEDED:
        return replace(
            member, revisions_done=(*member.revisions_done, revision), revision_running=None
        )
    if status == StepStatus.STARTED:
        return replace(member, revision_running=revision)
    return member


def _finished(member: MemberRun, data: Mapping[str, Any], at: datetime) -> MemberRun:
    held = data.get("database_revisions")
    return replace(
        member,
        state=STATE_OF_OUTCOME.get(str(data.get("outcome")), MemberState.FAILED),
        finished_at=at,
        revision_running=None,
        database_revisions=tuple(held) if isinstance(held, list) else member.database_revisions,
        backup_id=data.get("backup_id") or member.backup_id,
        error=str(data.get("reason", "")),
        failed_step=data.get("failed_step"),
    )


def _skipped(member: MemberRun, data: Mapping[str, Any], at: datetime) -> MemberRun:
    held = data.get("database_revisions")
    return replace(
        member,
        state=MemberState.SKIPPED,
        wave=data.get("wave", member.wave),
        finished_at=at,
        database_revisions=tuple(held) if isinstance(held, list) else None,
        error=str(data.get("reason", "")),
    )


def _interrupted(member: MemberRun, data: Mapping[str, Any], at: datetime) -> MemberRun:
    held = data.get("database_revisions")
    return replace(
        member,
        state=MemberState.INTERRUPTED,
        finished_at=at,
        revision_running=None,
        database_revisions=tuple(held) if isinstance(held, list) else None,
        error=str(data.get("reason", "")),
        failed_step=data.get("step"),
    )


def _backup(member: MemberRun, data: Mapping[str, Any], at: datetime) -> MemberRun:
    return replace(member, backup_id=data.get("backup_id"))


_APPLY: dict[str, Callable[[MemberRun, Mapping[str, Any], datetime], MemberRun]] = {
    EventKind.MEMBER_STARTED: _started,
    EventKind.MEMBER_STEP: _step,
    EventKind.MEMBER_FINISHED: _finished,
    EventKind.MEMBER_SKIPPED: _skipped,
    EventKind.MEMBER_INTERRUPTED: _interrupted,
    EventKind.BACKUP_SUCCEEDED: _backup,  # written by the backup step, on target FLEET.MEMBER
}


def start_wave(
    waves: tuple[WaveRun, ...], data: Mapping[str, Any], at: datetime
) -> tuple[WaveRun, ...]:
    """``waves`` with the one a ``wave_started`` event begins."""
    wave = WaveRun(int(data["wave"]), tuple(data.get("members", ())), at)
    return (*waves, wave)


def finish_wave(
    waves: tuple[WaveRun, ...], data: Mapping[str, Any], at: datetime
) -> tuple[WaveRun, ...]:
    number = int(data["wave"])
    return tuple(replace(w, finished_at=at) if w.number == number else w for w in waves)
