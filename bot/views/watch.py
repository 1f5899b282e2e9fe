"""The watch after a run, in the thread and the ops channel: that it began, and what it found.

Pure: a ``WatchReport`` in, text and blocks out, in the words of
``watch_report.describe`` (the terminal prints the same lines).
"""

from __future__ import annotations

from bot.views.blocks import Block, context, escape, lines_in_sections, section
from bot.views.ids import BlockId
from bot.views.outcome import ways_back_buttons
from commands.pipeline.watch_report import WatchReport, describe, verdict
from commands.pipeline.ways_back import WayBack
from commands.requests import Request
from commands.units import format_duration


def watch_started_text(report: WatchReport) -> str:
    return (
        f"🔭 Watching {report.target} for {format_duration(report.planned_s)} after the run:"
        " the application's failures (rollbacks, conflicts, deadlocks) and statements' mean"
        " times against before the run, new sequential scans, the health URL. The summary"
        " comes here when it ends."
    )


def _icon(report: WatchReport) -> str:
    if report.regressed:
        return "🚨"
    return "⚠️" if report.unread else "✅"


def _details(report: WatchReport) -> list[Block]:
    lines = [escape(line) for line in describe(report)]
    blocks = lines_in_sections(lines, max_blocks=4, block_id=BlockId.WATCH)
    if report.notes:
        blocks.append(context(*(escape(note) for note in report.notes[:5])))
    return blocks


def watch_summary(
    report: WatchReport, request: Request | None = None, offers: tuple[WayBack, ...] = ()
) -> tuple[str, list[Block]]:
    """The thread's summary at the watch's end; after a regression, ``request``'s ways back."""
    found = f"{_icon(report)} {verdict(report)}"
    head = f"🔭 *Watch of {report.request_id} on {report.target} ended*: {found}"
    text = f"Watch of {report.request_id} on {report.target} ended: {verdict(report)}"
    blocks = [section(head, block_id=BlockId.WATCH), *_details(report)]
    if report.regressed and request is not None and offers:
        blocks.append(
            context("Ways back, each a new request with its own pre-flight and approval:")
        )
        blocks += ways_back_buttons(request, offers)
    return text, blocks


def watch_alert(report: WatchReport) -> tuple[str, list[Block]]:
    """For the ops channel, at once: the run succeeded, and then something regressed."""
    when = "at the end of its watch" if report.final else "during its watch"
    head = f"🚨 *{report.request_id}* on *{report.target}* succeeded, but {when}: {verdict(report)}"
    text = f"{report.request_id} on {report.target} succeeded, but {when}: {verdict(report)}"
    return text, [section(head, block_id=BlockId.WATCH), *_details(report)]
