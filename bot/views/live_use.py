"""The evidence of live use on a request: the findings under the pre-flight, a line
beside the "works with both schemas" checklist item, the approvers' checkbox and
the "View live use" modal. Pure: they read the recorded ``live_use`` result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.views.blocks import (
    SAFE_BACKTICK,
    Block,
    actions,
    checkboxes,
    code,
    context,
    escape,
    plain,
    section,
)
from bot.views.ids import ActionId, BlockId, tagged
from bot.views.limits import MODAL_BLOCKS, SECTION_TEXT
from bot.views.people import mention
from commands.requests.live_use import acknowledged_by, live_use_check, warned_findings
from commands.requests.model import Request
from commands.state.vocabulary import PENDING_STATES
from commands.units import format_count

ACK_VALUE = "read"
ACK_LABEL = "I have read the live-use evidence and approve knowing it"
STATEMENTS_SHOWN = 2  # per finding on the message; the modal shows every one kept


def _data(check: Mapping[str, Any] | None) -> Mapping[str, Any]:
    data = check.get("data") if check else None
    return data if isinstance(data, Mapping) else {}


def _findings(check: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    found = _data(check).get("findings")
    return [f for f in found or () if isinstance(f, Mapping)]


def _statements(finding: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in finding.get("statements") or () if isinstance(s, Mapping)]


def live_use_lines(check: Mapping[str, Any]) -> list[str]:
    """Under the ``live_use`` check: each finding's sentence and its busiest statements,
    shortened (the modal has them in full)."""
    lines = []
    for finding in _findings(check):
        icon = "❌" if finding.get("level") == "fail" else "⚠️"
        lines.append(f"{icon} {_mrkdwn_sentence(str(finding.get('sentence', '')))}")
        shown = _statements(finding)[:STATEMENTS_SHOWN]
        lines += [
            f"      {format_count(int(s.get('calls', 0)), 'call')}  {code(str(s.get('short', '')))}"
            for s in shown
        ]
        more = int(finding.get("statement_count") or 0) - len(shown)
        if more > 0:
            lines.append(f"      … and {more} more statement(s): *View live use*")
    return lines


def evidence_line(request: Request) -> str | None:
    """Beside "Application works with both the old and the new schema": what the
    database says, in a few words (None before any pre-flight)."""
    check = live_use_check(request)
    if check is None:
        return None
    verdict = check.get("verdict")
    if verdict in ("warn", "fail"):
        subjects = ", ".join(code(str(f.get("subject"))) for f in _findings(check))
        calls = sum(int(f.get("calls") or 0) for f in _findings(check))
        return f"⚠️ still used: {subjects}, {format_count(calls, 'call')}"
    if verdict == "pass":
        return "✅ no statement of the application uses what changes"
    if _data(check).get("available") is False:
        return "❔ no evidence: pg_stat_statements is not available"
    return "❔ no evidence: the live_use check is off"


def acknowledgement_blocks(request: Request) -> list[Block]:
    """The approvers' checkbox while the findings wait for acknowledgement, or who did."""
    if not warned_findings(request):
        return []
    done = acknowledged_by(request)
    who = ", ".join(mention(user) for user in done)
    status = f"acknowledged by {who}" if done else "not acknowledged yet"
    title = f"*Live use* · {status} (each approver ticks it before approving; the requester cannot)"
    if request.state not in PENDING_STATES:
        return [context(title, block_id=BlockId.LIVE_USE)]
    element = checkboxes(
        action_id=ActionId.LIVE_USE_ACK,
        options=[(ACK_LABEL, ACK_VALUE)],
        checked=[ACK_VALUE] if done else [],
    )
    return [section(title), actions(element, block_id=tagged(BlockId.LIVE_USE, request.id))]


def has_live_use(request: Request) -> bool:
    """Whether the request's pre-flight found live use (the message offers its details)."""
    return bool(_findings(live_use_check(request)))


def live_use_modal(request: Request) -> dict[str, Any]:
    """Every finding with the statements kept for it, in full, with their figures."""
    check = live_use_check(request)
    data = _data(check)
    blocks: list[Block] = [section(escape(str(check.get("summary", ""))) if check else "—")]
    for finding in _findings(check):
        blocks.append(section(_mrkdwn_sentence(str(finding.get("sentence", "")))))
        for statement in _statements(finding):
            blocks += _statement_blocks(statement)
    notes = [str(note) for note in data.get("notes") or ()]
    if notes:
        blocks.append(context(*(escape(note) for note in notes[:3])))
    if len(blocks) > MODAL_BLOCKS:
        blocks = [*blocks[: MODAL_BLOCKS - 1], context("… cut to fit a modal")]
    return {
        "type": "modal",
        "title": plain(f"Live use: {request.id}", 24),
        "close": plain("Close", 24),
        "blocks": blocks,
    }


def _statement_blocks(statement: Mapping[str, Any]) -> Sequence[Block]:
    text = escape(str(statement.get("text", ""))).replace("```", SAFE_BACKTICK * 3)
    figures = (
        f"{statement.get('uses', 'uses')} · {format_count(int(statement.get('calls', 0)), 'call')}"
        f" · mean {float(statement.get('mean_ms', 0.0)):.2f} ms"
    )
    window = statement.get("window_calls")
    if window is not None:
        figures += f" · {int(window):,} while the bot watched"
    roles = statement.get("roles") or []
    if roles:
        figures += f" · role {escape(', '.join(map(str, roles)))}"
    return [
        section(f"```{text[: SECTION_TEXT - 20]}```"),
        context(figures),
    ]


def _mrkdwn_sentence(sentence: str) -> str:
    """The check's sentence (names in backticks) made safe for mrkdwn."""
    return escape(sentence)
