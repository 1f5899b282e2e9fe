"""The App Home tab: what one person has to do and what is going on, on one page.

Waiting for your approval (with Approve, Reject and View SQL, as on the
request message), your requests, the changes in flight and open backfills,
each target (its revision, what is pending, a freeze, the next window) and the
last runs with their outcomes. A pure
function of a ``HomePage`` gathered by ``bot.flows.home``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.views.backfill import headline as backfill_headline
from bot.views.blocks import (
    Block,
    actions,
    button,
    code,
    context,
    escape,
    header,
    lines_in_sections,
    section,
)
from bot.views.change_card import headline as change_headline
from bot.views.ids import ActionId, BlockId, decide_block_id
from bot.views.outcome import state_line
from bot.views.people import mention
from bot.views.request_card import RequestCard
from bot.views.schedule import in_words, slot_text
from bot.views.schema_evidence import home_drift_lines
from bot.views.status import revisions_text
from commands.backfill.model import BackfillRun
from commands.changes.model import Change
from commands.requests.model import Freeze, Request
from commands.requests.slots import Slot
from commands.requests.wording import format_time
from commands.schema.drift_log import DriftStatus
from commands.state.vocabulary import RequestState
from commands.units import format_duration

HOME_BLOCKS = 100  # Slack's limit for a home tab
WAITING_SHOWN = 8  # each takes three blocks
OUTCOME_ICONS = {
    RequestState.SUCCEEDED: "✅",
    RequestState.FAILED: "❌",
    RequestState.ABORTED: "🛑",
    RequestState.INTERRUPTED: "⚠️",
}


@dataclass(frozen=True)
class TargetLine:
    """One target as the home tab shows it; ``revisions`` is ``None`` when the database
    could not be read (``problem`` says why)."""

    name: str
    revisions: tuple[str, ...] | None
    pending: int | None
    frozen: Freeze | None
    next_window: Slot | None
    problem: str | None = None
    members: int | None = None  # a fleet's number of members


@dataclass(frozen=True)
class HomePage:
    """Everything the home tab of ``user`` shows, gathered at ``now``."""

    user: str
    waiting: Sequence[RequestCard]  # requests this user may approve now
    mine: Sequence[RequestCard]  # the user's own requests, newest first
    targets: Sequence[TargetLine]
    runs: Sequence[Request]  # the last runs that ended, newest first
    now: datetime
    note: str | None = None  # what the user's last click here did
    drift: Mapping[str, DriftStatus] = field(default_factory=dict)  # last check per database
    changes: Sequence[Change] = ()  # changes in flight, newest first
    backfills: Sequence[BackfillRun] = ()  # backfill runs not ended, newest first


def home_view(page: HomePage) -> dict[str, Any]:
    """The ``views.publish`` view of ``page``."""
    blocks: list[Block] = [header("migrate-bot", f"{BlockId.HOME}-header")]
    if page.note:
        blocks.append(section(escape(page.note), block_id=f"{BlockId.HOME}-note"))
    blocks += _waiting(page)
    blocks += _mine(page)
    blocks += _changes(page)
    blocks += _targets(page)
    blocks += _drift(page)
    blocks += _runs(page)
    blocks.append(
        context(
            f"Updated {format_time(page.now)}: open this tab again to refresh."
            " `/migrate help` lists every command.",
            block_id=f"{BlockId.HOME}-footer",
        )
    )
    return {"type": "home", "blocks": blocks[:HOME_BLOCKS]}


def _title(text: str, part: str) -> Block:
    return section(f"*{text}*", block_id=f"{BlockId.HOME}-{part}")


def _waiting(page: HomePage) -> list[Block]:
    blocks = [_title(f"Waiting for your approval ({len(page.waiting)})", "waiting")]
    if not page.waiting:
        blocks.append(context("Nothing needs you now.", block_id=f"{BlockId.HOME}-waiting-none"))
    for card in page.waiting[:WAITING_SHOWN]:
        request = card.request
        where = request.origin.get("channel")
        asked = (
            f"*{request.id}* · {request.kind.value} {code(request.target)}"
            f" {revisions_text(request.from_revisions)} → {revisions_text(request.to_revisions)}"
            f"\nAsked by {mention(request.requester)}"
            + (f" in <#{where}>" if where and where[0] in "CG" else "")
            + f", {format_time(request.created_at)}"
        )
        value = request.id
        elements = [
            button("Approve", action_id=ActionId.APPROVE, value=value, style="primary"),
            button("Reject", action_id=ActionId.REJECT, value=value, style="danger"),
        ]
        if request.fingerprint.revisions:
            elements.append(button("View SQL", action_id=ActionId.VIEW_REQUEST_SQL, value=value))
        blocks += [
            section(asked, block_id=f"{BlockId.HOME}-waiting-{request.id}"),
            context(state_line(card), block_id=f"{BlockId.HOME}-state-{request.id}"),
            actions(*elements, block_id=decide_block_id(request.fingerprint.digest, request.id)),
        ]
    if len(page.waiting) > WAITING_SHOWN:
        more = len(page.waiting) - WAITING_SHOWN
        blocks.append(context(f"… and {more} more", block_id=f"{BlockId.HOME}-waiting-more"))
    return blocks


def _mine(page: HomePage) -> list[Block]:
    lines = [
        f"*{card.request.id}* {_what(card.request)} · {state_line(card)}" for card in page.mine
    ]
    return [
        _title("Your requests", "mine"),
        *(
            lines_in_sections(lines, max_blocks=4, block_id=f"{BlockId.HOME}-mine")
            if lines
            else [context("You have asked for nothing yet: try `/migrate upgrade TARGET`.")]
        ),
    ]


def _changes(page: HomePage) -> list[Block]:
    """Changes in flight and open backfills, one line each (their cards have the buttons)."""
    if not page.changes and not page.backfills:
        return []
    lines = [
        f"🔀 {escape(change_headline(change))} · waits for"
        f" {escape(change.current_phase.spec.waits_for if change.current_phase else '-')}"
        for change in page.changes
    ]
    lines += [f"🔁 {escape(backfill_headline(run))}" for run in page.backfills]
    return [
        _title("Changes in flight and backfills", "changes"),
        *lines_in_sections(lines, max_blocks=4, block_id=f"{BlockId.HOME}-changes"),
    ]


def _targets(page: HomePage) -> list[Block]:
    lines = [_target_line(line, page.now) for line in page.targets]
    return [
        _title("Targets", "targets"),
        *lines_in_sections(lines, max_blocks=6, block_id=f"{BlockId.HOME}-targets"),
    ]


def _target_line(line: TargetLine, now: datetime) -> str:
    parts = [f"{code(line.name)}"]
    if line.members is not None:
        parts.append(
            f"fleet of {line.members} members: `/migrate status {line.name}` shows where they stand"
        )
    elif line.revisions is None:
        parts.append(f"❓ cannot be read: {escape(line.problem or 'unknown')}")
    else:
        parts.append(f"at {revisions_text(line.revisions)}")
        parts.append(f"⏳ {line.pending} pending" if line.pending else "✅ up to date")
    if line.frozen is not None:
        parts.append(f"🧊 frozen by {mention(line.frozen.by)}: {escape(line.frozen.reason)}")
    if line.next_window is not None:
        window = line.next_window
        parts.append(f"🗓️ next window {slot_text(window)}, in {in_words(window.start - now)}")
    return " · ".join(parts)


def _drift(page: HomePage) -> list[Block]:
    """Each database's drift state and since when, from its last check with no request."""
    if not page.drift:
        return []
    lines = home_drift_lines(page.drift)
    return [
        _title("Schema drift", "drift"),
        *lines_in_sections(lines, max_blocks=4, block_id=f"{BlockId.HOME}-drift"),
    ]


def _runs(page: HomePage) -> list[Block]:
    lines = [_run_line(request) for request in page.runs]
    return [
        _title("Last runs", "runs"),
        *(
            lines_in_sections(lines, max_blocks=3, block_id=f"{BlockId.HOME}-runs")
            if lines
            else [context("No run yet.", block_id=f"{BlockId.HOME}-runs-none")]
        ),
    ]


def _run_line(request: Request) -> str:
    icon = OUTCOME_ICONS.get(request.state, "•")
    closure, run = request.closure, request.run
    took = ""
    if closure is not None and run is not None:
        took = f" in {format_duration((closure.at - run.started_at).total_seconds())}"
    when = format_time(closure.at) if closure is not None else ""
    return f"{icon} *{request.id}* {_what(request)} {request.state.value}{took} · {when}"


def _what(request: Request) -> str:
    return f"{request.kind.value} {code(request.target)}"
