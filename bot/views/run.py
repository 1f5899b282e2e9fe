"""The live status of a run: each step with its state, a progress bar over the
revisions, the time it has taken, and what it waits on when it waits. A fleet's:
the wave, a bar over the members, counts per state, and the slowest member
running now (per-member details go to the thread, not here)."""

from __future__ import annotations

from datetime import datetime

from bot.views.blocks import Block, code, escape, section
from bot.views.ids import BlockId
from bot.views.run_picture import FleetPicture, RunPicture, StepState
from commands.pipeline.progress import RunStep
from commands.state.vocabulary import MemberState
from commands.units import format_duration

STATE_ICONS = {
    StepState.WAITING: "⬜",
    StepState.RUNNING: "🔄",
    StepState.DONE: "✅",
    StepState.FAILED: "❌",
}
BAR_WIDTH = 20
DETAIL_CHARS = 300


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``▓▓▓▓░░░░ 2/4 revisions``; an empty plan reads as complete."""
    filled = width if total <= 0 else round(width * min(done, total) / total)
    return f"`{'▓' * filled}{'░' * (width - filled)}` {done}/{total} revisions"


def run_blocks(picture: RunPicture, now: datetime) -> list[Block]:
    """At most two sections: the steps, and the bar with what is happening now."""
    took = format_duration(picture.elapsed_s(now))
    title = f"*Run* · {'took' if picture.finished else 'running for'} {took}"
    lines = [title]
    for line in picture.steps:
        detail = f" — {escape(_short(line.detail))}" if line.detail else ""
        lines.append(f"{STATE_ICONS[line.state]} *{line.name}*{detail}")
    blocks = [section("\n".join(lines), block_id=f"{BlockId.RUN}-steps")]
    now_lines = []
    if picture.revisions_total and any(s.step is RunStep.APPLY for s in picture.steps):
        now_lines.append(progress_bar(picture.revisions_done, picture.revisions_total))
    if picture.current_revision:
        now_lines.append(f"Now: {code(picture.current_revision)}")
    if picture.news.progress:
        now_lines.append(f"_{escape(_short(picture.news.progress))}_")
    if picture.news.blocker:
        now_lines.append(f"⏳ *Waiting for a lock:* {escape(_short(picture.news.blocker))}")
    if now_lines:
        blocks.append(section("\n".join(now_lines), block_id=f"{BlockId.RUN}-now"))
    return blocks


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


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
