"""What a fleet request's message shows in its frame: the members grouped by where they
start, each group's revisions once; once it runs, its live status; at the end, how it
went, member by member (the ways back are ``outcome``'s buttons).

One pure function of a ``RequestCard`` (with its ``fleet`` picture), drawn again
from scratch on every change, as the single target's message is.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.views.blocks import (
    Block,
    code,
    escape,
    lines_in_sections,
)
from bot.views.ids import BlockId
from bot.views.outcome import state_line
from bot.views.people import mention, people
from bot.views.request_card import RequestCard
from bot.views.request_frame import buttons, card_blocks
from bot.views.run import counts_line, fleet_run_blocks
from bot.views.status import revisions_text
from commands.fleet.set_plan import groups, members_to_run
from commands.fleet.waves import describe_waves
from commands.requests.model import Request
from commands.state.vocabulary import MemberState, RequestState
from commands.units import format_duration

STOP_FLEET = (
    "No new member starts. Members running now stop at a revision boundary (the revision"
    " in flight is rolled back by PostgreSQL); members that succeeded stay succeeded."
)
NAMES_SHOWN = 4


def fleet_request_message(card: RequestCard) -> tuple[str, list[Block]]:
    """The notification text and the blocks of a fleet request's message."""
    request = card.request
    body = fleet_run_blocks(card.fleet, card.now) if card.fleet is not None else []
    blocks = card_blocks(
        card,
        title=f"{request.kind.value} {request.target} (fleet)",
        summary=_summary(card),
        state=_state_line(card),
        body=body + _groups(request),
        buttons=buttons(card, STOP_FLEET),
    )
    text = f"{request.id}: {request.kind.value} {request.target} (fleet) — {request.state.value}"
    return text, blocks


def _summary(card: RequestCard) -> str:
    request = card.request
    fingerprint = request.fingerprint
    running = members_to_run(fingerprint)
    found = groups(fingerprint)
    moving = [g for g in found if g.revisions]
    destination = (
        revisions_text(fingerprint.to_revisions)
        if fingerprint.to_revisions
        else ("each member's starting revision")
    )
    lines = [
        f"*{len(running)} of {len(fingerprint.members)} members* → {destination},"
        f" in {len(moving)} group(s) by starting revision;"
        f" {len(fingerprint.revisions)} distinct revision(s)"
    ]
    settings = card.fleet_settings
    if settings is not None and running:
        lines.append(
            f"Waves: {describe_waves(settings.waves, len(running))};"
            f" {settings.concurrency} at a time; no new member after"
            f" {settings.max_failures} failure(s)"
        )
    lines.append(f"Requested by {mention(request.requester)}")
    if request.reason:
        lines.append(f"_{escape(request.reason)}_")
    return "\n".join(lines)


def _state_line(card: RequestCard) -> str:
    request = card.request
    closure = request.closure
    if request.run is None or closure is None or not request.state.is_final:
        return state_line(card)
    counts = counts_line(_counts(request))
    took = format_duration((closure.at - request.run.started_at).total_seconds())
    if request.state is RequestState.SUCCEEDED:
        approved = people(a.approver for a in request.current_approvals)
        return f"✅ *Succeeded* in {took}: {counts} · approved by {approved}"
    if request.state is RequestState.INTERRUPTED:
        return (
            f"⚠️ *Interrupted*: the bot stopped while the fleet ran; {counts}."
            " Nothing resumes by itself."
        )
    word = "❌ *Failed*" if request.state is RequestState.FAILED else "🛑 *Aborted*"
    return f"{word} after {took}: {escape(closure.reason)} · {counts}"


def _counts(request: Request) -> dict[MemberState, int]:
    counted: dict[MemberState, int] = {}
    for member in request.members.values():
        counted[member.state] = counted.get(member.state, 0) + 1
    return counted


def _groups(request: Request) -> list[Block]:
    """Each group once (how many members start there, their names, which of the set's
    revisions they run), then every distinct revision once, numbered, with its message."""
    order = list(request.fingerprint.revision_ids)
    lines = ["*Members by starting revision*"]
    for group in groups(request.fingerprint):
        names = ", ".join(code(m) for m in group.members[:NAMES_SHOWN])
        more = len(group.members) - NAMES_SHOWN
        names += f" and {more} more" if more > 0 else ""
        start = revisions_text(group.from_revisions)
        what = _which(group.revisions, order) if group.revisions else "already there"
        lines.append(f"• *{len(group.members)}* at {start}: {what} — {names}")
    messages = _revision_messages(request)
    lines.append(f"*Revisions* ({len(order)})")
    lines += [
        f"{n}. {code(rev)}  {escape(messages.get(rev, ''))}" for n, rev in enumerate(order, 1)
    ]
    return lines_in_sections(lines, max_blocks=6, block_id=BlockId.REVISIONS)


def _which(revisions: tuple[str, ...], order: list[str]) -> str:
    """``3 revision(s) (#4 to #6)``, their numbers in the list below; or their ids."""
    numbers = [order.index(r) + 1 for r in revisions if r in order]
    count = f"{len(revisions)} revision(s)"
    if len(numbers) == len(revisions) and numbers == list(range(numbers[0], numbers[-1] + 1)):
        last = f" to #{numbers[-1]}" if len(numbers) > 1 else ""
        return f"{count} (#{numbers[0]}{last})"
    return f"{count}: {', '.join(code(r) for r in revisions)}"


def _revision_messages(request: Request) -> Mapping[str, str]:
    """Each revision's message, as the set's pre-flight recorded them."""
    for check in request.preflight.checks if request.preflight else ():
        if isinstance(check, Mapping) and check.get("name") == "members":
            data = check.get("data")
            found = data.get("revisions") if isinstance(data, Mapping) else None
            if isinstance(found, Mapping):
                return {str(k): str(v) for k, v in found.items()}
    return {}
