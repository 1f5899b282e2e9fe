"""A fleet run as its live status shows it: the wave, counts per state, who is slowest.

Drawn from the request alone (its members folded from the log), so the picture
is the same after a restart and never disagrees with the log; the number of
waves comes from the target's config. Pure functions and data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from commands.requests.members import MemberRun
from commands.requests.model import Request
from commands.state.vocabulary import MemberState


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
    """The fleet run of ``request`` as it stands, or ``None`` if it never started."""
    if request.run is None or not request.is_fleet:
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
