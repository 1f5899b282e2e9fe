"""``/migrate changes`` and ``/migrate backfills``: one line each, newest first. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from bot.views import backfill as backfill_view
from bot.views import change_card
from bot.views.blocks import Block, code, escape, header, lines_in_sections, section
from bot.views.people import mention
from commands.backfill.model import BackfillRun
from commands.changes.model import Change
from commands.requests.wording import format_time

MAX_SECTIONS = 20


def changes_blocks(changes: Sequence[Change], target: str | None) -> list[Block]:
    where = f" on {target}" if target else ""
    if not changes:
        return [section(f"No change is in flight{where}.")]
    lines = [
        f"• {escape(change_card.headline(change))} · started by {mention(change.started_by)}"
        f" {format_time(change.started_at)} · {code(f'/migrate change show {change.id}')}"
        for change in changes
    ]
    return [header(f"Changes in flight{where}"), *lines_in_sections(lines, max_blocks=MAX_SECTIONS)]


def backfills_blocks(runs: Sequence[BackfillRun], target: str | None) -> list[Block]:
    where = f" on {target}" if target else ""
    if not runs:
        return [section(f"No backfill has run{where}.")]
    lines = [
        f"• {escape(backfill_view.headline(run))} · asked by {mention(run.requester)}"
        f" {format_time(run.asked_at)}"
        for run in runs
    ]
    return [header(f"Backfills{where}"), *lines_in_sections(lines, max_blocks=MAX_SECTIONS)]
