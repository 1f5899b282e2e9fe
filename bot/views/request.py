"""The request message: what is asked, what the checks found, the checklist, the
decision buttons, and, once it runs, its live status and outcome.

One pure function of a ``RequestCard`` (the request as the audit log folds
it, plus what the policy still needs and the run's news): the message is
drawn again from scratch on every change, so it never shows a state the log
does not hold. Its frame (``request_frame``) is every request's; inside it, a
single target's revisions and run, or a fleet's members (``request_members``).
"""

from __future__ import annotations

from bot.views.blocks import (
    Block,
    code,
    escape,
    lines_in_sections,
)
from bot.views.ids import BlockId
from bot.views.outcome import state_line
from bot.views.people import mention
from bot.views.preflight import pending_revisions
from bot.views.request_card import RequestCard
from bot.views.request_frame import buttons, card_blocks
from bot.views.request_members import fleet_request_message
from bot.views.run import run_blocks
from bot.views.status import revisions_text
from commands.requests.model import Request
from commands.state.vocabulary import (
    RequestKind,
)


def request_message(card: RequestCard) -> tuple[str, list[Block]]:
    """The notification text and the blocks of the request message (a fleet's shows its
    members: ``request_members``)."""
    request = card.request
    if request.is_fleet:
        return fleet_request_message(card)
    body: list[Block] = []
    if card.run is not None:  # once it runs, the run comes first; the rest is settled
        body += run_blocks(card.run, card.now)
    if request.kind is not RequestKind.RESTORE:
        body += _revisions(request)
    blocks = card_blocks(
        card,
        title=f"{request.kind.value} {request.target}",
        summary=_summary(request),
        state=state_line(card),
        body=body,
        buttons=buttons(card, STOP_TEXT),
    )
    text = f"{request.id}: {request.kind.value} {request.target} — {request.state.value}"
    return text, blocks


def _summary(request: Request) -> str:
    count = len(request.fingerprint.revisions)
    if request.kind is RequestKind.RESTORE:
        captured = revisions_text(request.to_revisions)
        what = f"Restore backup {code(request.goal)}, captured at {captured}"
    else:
        what = f"{revisions_text(request.from_revisions)} → {revisions_text(request.to_revisions)}"
        what += f", *{count} revision{'s' * (count != 1)}*"
    lines = [what, f"Requested by {mention(request.requester)}"]
    if request.reason:
        lines.append(f"_{escape(request.reason)}_")
    return "\n".join(lines)


def _revisions(request: Request) -> list[Block]:
    revisions = pending_revisions(request)
    if not revisions:
        return []
    lines = [
        f"{n}. {code(rev)}  {escape(message)}" for n, (rev, message) in enumerate(revisions, 1)
    ]
    return lines_in_sections(lines, max_blocks=4, block_id=BlockId.REVISIONS)


STOP_TEXT = (
    "The revision in flight is rolled back by PostgreSQL and the run is aborted"
    " at the revision the database then holds."
)
