"""A change's phase card: where the change stands (phase N of M), who did what when,
what the current phase waits for, and the one button that moves it on. Pure."""

from __future__ import annotations

from bot.views.blocks import (
    Block,
    actions,
    button,
    code,
    confirm_dialog,
    context,
    escape,
    header,
    lines_in_sections,
    section,
)
from bot.views.ids import ActionId, BlockId
from bot.views.people import mention
from commands.changes.card import ChangeCard
from commands.changes.change_file import PhaseKind, PhaseSpec
from commands.changes.model import Change, ChangeState, PhaseRecord
from commands.requests.wording import format_time
from commands.units import format_duration

ICONS = {"done": "✅", "current": "▶️", "waiting": "◻️", "ended": "⏹️"}


def change_message(card: ChangeCard) -> tuple[str, list[Block]]:
    """The card's fallback text and blocks."""
    change = card.change
    return headline(change), change_blocks(card)


def headline(change: Change) -> str:
    """'rename-youtube-id on demo (C-1): phase 3 of 6, copy'."""
    where = f"{change.name} on {change.target} ({change.id})"
    index = change.current
    if index is None:
        return f"{where}: {change.state.value.replace('_', ' ')}"
    return f"{where}: phase {index + 1} of {len(change.phases)}, {change.phases[index].spec.name}"


def change_blocks(card: ChangeCard) -> list[Block]:
    change = card.change
    blocks = [
        header(f"Change {headline(change)}"),
        section(
            f"{escape(change.spec.description)}\nStarted by {mention(change.started_by)}"
            f" at {format_time(change.started_at)}",
            block_id=BlockId.SUMMARY,
        ),
        *lines_in_sections(
            (phase_line(card, i) for i in range(len(change.phases))),
            max_blocks=3,
            block_id=BlockId.PHASES,
        ),
    ]
    blocks += _now(card)
    blocks += _buttons(change)
    file = change.spec.source.rsplit("/", 1)[-1] or change.name
    blocks.append(
        context(
            f"{code(change.id)} · {code(file)} sha256 {code(change.spec.sha256[:12])}"
            f" · a deploy pipeline confirms with"
            f" {code(f'migrate-bot change confirm {change.name} PHASE')}",
            block_id=BlockId.FOOTER,
        )
    )
    return blocks


def phase_line(card: ChangeCard, index: int) -> str:
    """'✅ 2 write-both, deploy: … · confirmed by @alice through slack, 09:20 UTC'."""
    change, record = card.change, card.change.phases[index]
    state = _state(change, index)
    line = f"{ICONS[state]} *{index + 1}* {escape(record.spec.name)}, {_what(record.spec)}"
    return line + "".join(f" · {part}" for part in _marks(card, index))


def _state(change: Change, index: int) -> str:
    if change.phases[index].done is not None:
        return "done"
    if change.state is not ChangeState.IN_FLIGHT:
        return "ended"
    return "current" if change.current == index else "waiting"


def _what(spec: PhaseSpec) -> str:
    if spec.kind is PhaseKind.MIGRATE:
        return f"migrate to {code(spec.revision or '?')}"
    if spec.kind is PhaseKind.DEPLOY:
        return f"deploy: {escape(spec.deploy or '')}"
    if spec.kind is PhaseKind.BACKFILL:
        assert spec.backfill is not None
        return f"backfill of {code(spec.backfill.table)} by {code(spec.backfill.key)}"
    assert spec.gate is not None
    return f"gate: {escape(spec.gate.summary)}"


def _marks(card: ChangeCard, index: int) -> list[str]:
    record: PhaseRecord = card.change.phases[index]
    marks = []
    if index in card.requests:
        request = card.requests[index]
        marks.append(f"{code(request.id)} {request.state.value.replace('_', ' ')}")
    if index in card.runs:
        run = card.runs[index]
        marks.append(f"{code(run.id)} {run.state.value.replace('_', ' ')}")
    if record.confirmed is not None:
        via = record.confirmed.data.get("via", "?")
        marks.append(f"confirmed by {mention(record.confirmed.by)} through {escape(str(via))}")
    if record.done is not None:
        how = escape(str(record.done.data.get("how", "")))
        marks.append(f"done {format_time(record.done.at)}{': ' + how if how else ''}")
    return marks


def _now(card: ChangeCard) -> list[Block]:
    change = card.change
    if change.state is not ChangeState.IN_FLIGHT:
        assert change.ended is not None
        why = change.ended.data.get("reason")
        verb = "Finished" if change.state is ChangeState.FINISHED else "Abandoned"
        reason = f': "{escape(str(why))}"' if why else ""
        return [
            section(
                f"*{verb}* by {mention(change.ended.by)} at {format_time(change.ended.at)}{reason}",
                block_id=BlockId.STATE,
            )
        ]
    index = change.current
    assert index is not None
    record = change.phases[index]
    waited = format_duration((card.now - change.waiting_since).total_seconds())
    blocks = [
        section(
            f"*Waiting for* {escape(record.spec.waits_for)} (for {waited})",
            block_id=BlockId.STATE,
        )
    ]
    if record.spec.kind is PhaseKind.GATE and record.checks:
        conditions = record.checks[-1].data.get("conditions", [])
        lines = [
            f"{'✅' if c['held'] else '❌'} {escape(c['what'])}: {escape(c['detail'])}"
            for c in conditions
        ]
        checked = format_time(record.checks[-1].at)
        blocks.append(
            section(f"*Evidence* ({checked})\n" + "\n".join(lines), block_id=BlockId.GATE)
        )
    return blocks


def _buttons(change: Change) -> list[Block]:
    index = change.current
    if index is None:
        return []
    spec = change.phases[index].spec
    value = f"{change.id}:{index}"
    elements = []
    if spec.kind in (PhaseKind.MIGRATE, PhaseKind.BACKFILL):
        elements.append(
            button(
                f"Ask phase {index + 1}: {spec.name}",
                action_id=ActionId.CHANGE_ASK,
                value=value,
                style="primary",
            )
        )
    elif spec.kind is PhaseKind.DEPLOY:
        text = f"Is this version out? {spec.deploy}. You are recorded as confirming it."
        elements.append(
            button(
                f"Confirm deploy: {spec.name}",
                action_id=ActionId.CHANGE_CONFIRM,
                value=value,
                style="primary",
                confirm=confirm_dialog("Confirm the deploy", text, confirm="It is out"),
            )
        )
    else:
        elements.append(
            button("Check the evidence now", action_id=ActionId.CHANGE_CHECK, value=value)
        )
    elements.append(
        button(
            "Abandon",
            action_id=ActionId.CHANGE_ABANDON,
            value=value,
            confirm=confirm_dialog(
                "Abandon the change",
                "The bot stops tracking it: its later revisions are no longer held back.",
                confirm="Abandon it",
                danger=True,
            ),
        )
    )
    return [actions(*elements, block_id=BlockId.ACTIONS)]
