"""The live status of a fleet run: the wave, a bar over the members, counts per state, and
the slowest member running now. Per-member details go to the thread, not here."""

from __future__ import annotations

from datetime import datetime

from bot.views.blocks import Block, code, escape, section
from bot.views.fleet_picture import FleetPicture
from bot.views.ids import BlockId
from commands.state.vocabulary import MemberState
from commands.units import format_duration

BAR_WIDTH = 20
STATE_WORDS = {  # in the order a reader wants them
    MemberState.SUCCEEDED: ("✅", "succeeded"),
    MemberState.FAILED: ("❌", "failed"),
    MemberState.ABORTED: ("🛑", "aborted"),
    MemberState.INTERRUPTED: ("⚠️", "interrupted"),
    MemberState.SKIPPED: ("↷", "skipped"),
    MemberState.RUNNING: ("🔄", "running"),
    MemberState.PENDING: ("⬜", "waiting"),
    MemberState.NOT_STARTED: ("⬜", "not started"),
}


def member_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``▓▓▓▓░░░░ 48/200 members``: members whose turn ended."""
    filled = width if total <= 0 else round(width * min(done, total) / total)
    return f"`{'▓' * filled}{'░' * (width - filled)}` {done}/{total} members"


def counts_line(counts: dict[MemberState, int]) -> str:
    return " · ".join(
        f"{icon} {counts[state]} {word}"
        for state, (icon, word) in STATE_WORDS.items()
        if counts.get(state)
    )


def fleet_run_blocks(picture: FleetPicture, now: datetime) -> list[Block]:
    took = format_duration(picture.elapsed_s(now))
    title = f"*Fleet run* · {'took' if picture.finished_at else 'running for'} {took}"
    if picture.wave is not None:
        title += f" · wave {picture.wave} of {picture.waves_total}"
    lines = [title, member_bar(picture.done, picture.total), counts_line(picture.counts)]
    if picture.slowest is not None:
        slow = picture.slowest
        lines.append(
            f"🐢 Slowest now: {code(slow.name)}, {format_duration(slow.seconds)},"
            f" at {escape(slow.where)}"
        )
    return [section("\n".join(lines), block_id=f"{BlockId.RUN}-fleet")]
