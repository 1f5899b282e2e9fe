"""Schema evidence in Slack: the "View drift" modal, a drift change for the ops channel,
App Home's drift lines, and a run's "Schema changes" modal, paginated. Pure: they read
the recorded drift report, the log's drift statuses and the stored schema diff."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.views.blocks import (
    SAFE_BACKTICK,
    Block,
    actions,
    button,
    context,
    escape,
    lines_in_sections,
    plain,
    section,
)
from bot.views.ids import ActionId, BlockId
from bot.views.limits import MODAL_BLOCKS, MODAL_TITLE, SECTION_TEXT
from commands.requests.model import Request
from commands.schema.drift_log import DriftCheck, DriftStatus
from commands.schema.drift_report import DDL_HEADER, DriftReport, DriftState
from commands.schema.run_diff import SchemaChanges

ICONS = {DriftState.OK: "✅", DriftState.DRIFTED: "⚠️", DriftState.UNKNOWN: "❔"}
LINES_IN_MESSAGE = 10
PAGE_BLOCKS = 20
"""Sections on one page of the "Schema changes" modal: well under the 100 blocks a modal
holds, and about 60 KB of text, so a page opens quickly."""
CODE_CHUNK = SECTION_TEXT - 20


def drift_check(request: Request) -> Mapping[str, Any] | None:
    """The ``drift`` result of the request's latest pre-flight, if it ran."""
    for check in request.preflight.checks if request.preflight else ():
        if isinstance(check, Mapping) and check.get("name") == "drift":
            return check
    return None


def drifted(request: Request) -> bool:
    """Whether the request's pre-flight found drift or could not check it (the message
    offers **View drift**)."""
    check = drift_check(request)
    return check is not None and check.get("verdict") in ("warn", "fail")


def request_drift_modal(request: Request) -> dict[str, Any]:
    """**View drift** on a request: its pre-flight's drift report, in full."""
    check = drift_check(request)
    data = check.get("data") if check else None
    if not isinstance(data, Mapping) or "state" not in data:
        return _modal(f"Drift: {request.id}", [section("No drift report was recorded.")])
    return drift_modal(DriftReport.from_json(data), title_id=request.id)


def drift_modal(report: DriftReport, *, title_id: str) -> dict[str, Any]:
    """Every difference, then the DDL that would make the database match its history."""
    blocks: list[Block] = [section(f"{ICONS[report.state]} {escape(report.summary())}")]
    blocks += lines_in_sections((f"• {escape(line)}" for line in report.lines), max_blocks=40)
    if report.ddl:
        blocks.append(context(escape(DDL_HEADER)))
        blocks += code_sections("\n".join(report.ddl), max_blocks=MODAL_BLOCKS - len(blocks) - 1)
    return _modal(f"Drift: {title_id}", blocks)


def code_sections(text: str, *, max_blocks: int) -> list[Block]:
    """``text`` as code blocks, cut at line ends to fit a section each."""
    chunks: list[str] = [""]
    for raw in text.replace("```", SAFE_BACKTICK * 3).splitlines():
        line = escape(raw)[:CODE_CHUNK]
        if len(chunks[-1]) + len(line) + 1 > CODE_CHUNK:
            chunks.append("")
        chunks[-1] += line + "\n"
    shown = [section(f"```{chunk.rstrip()}```") for chunk in chunks if chunk][:max_blocks]
    if len(chunks) > max_blocks:
        shown[-1] = context(f"… {len(chunks) - max_blocks + 1} more part(s): `migrate-bot drift`")
    return shown


def drift_change_message(check: DriftCheck) -> tuple[str, list[Block]]:
    """For the ops channel, once per change: what the database's drift is now, and was."""
    report, previous = check.report, check.previous
    was = f" (was {previous.state.value} since {_when(previous.since)})" if previous else ""
    text = f"{ICONS[report.state]} Schema drift on {report.target}: {report.summary()}{was}"
    blocks: list[Block] = [section(escape(text))]
    shown = report.lines[:LINES_IN_MESSAGE]
    if shown:
        more = len(report.lines) - len(shown)
        extra = [f"… and {more} more"] if more else []
        blocks += lines_in_sections(
            (escape(f"• {line}") for line in [*shown, *extra]), max_blocks=5
        )
    blocks.append(context(f"`migrate-bot drift {escape(report.target)}` for the DDL"))
    return text, blocks


def fleet_drift_message(
    fleet: str, summary: str, changed: Sequence[DriftCheck]
) -> tuple[str, list[Block]]:
    """A fleet's sweep in one message: the summary and the members whose drift changed."""
    text = f"Schema drift on fleet {fleet}: {summary}"
    lines = [f"{ICONS[c.report.state]} {c.report.target}: {c.report.summary()}" for c in changed]
    blocks = [section(escape(text)), *lines_in_sections(map(escape, lines), max_blocks=10)]
    return text, blocks


def home_drift_lines(statuses: Mapping[str, DriftStatus]) -> list[str]:
    """App Home: each database's drift state and since when."""
    lines = []
    for target, status in sorted(statuses.items()):
        if status.state is DriftState.OK:
            what = "OK"
        elif status.state is DriftState.DRIFTED:
            noun = "difference" if status.count == 1 else "differences"
            what = f"DRIFTED ({status.count} {noun})"
        else:
            what = "not checked"
        lines.append(
            f"{ICONS[status.state]} `{escape(target)}` {what} since {_when(status.since)}"
            f" · checked {_when(status.checked_at)}"
        )
    return lines


def schema_changes_line(changes: SchemaChanges) -> str:
    """One line for the ops announcement: "Schema: 3 tables changed, 1 index added"."""
    return f"Schema: {changes.summary()}"


def no_schema_changes_modal(request_id: str, why: str) -> dict[str, Any]:
    """The "Schema changes" modal of a request with no diff to show, saying why."""
    return _modal(f"Schema: {request_id}", [section(escape(why))])


def schema_changes_modal(
    changes: SchemaChanges, *, request_id: str, page: int = 1
) -> dict[str, Any]:
    """The run's schema diff: each change, then the unified diff, ``PAGE_BLOCKS`` sections a
    page with Previous and Next (``private_metadata``: the request id; a button's value:
    the page it shows)."""
    pages = _pages(changes, request_id)
    page = min(max(page, 1), len(pages))
    blocks = list(pages[page - 1])
    if len(pages) > 1:
        blocks.append(context(f"page {page} of {len(pages)}"))
        buttons = []
        if page > 1:
            buttons.append(_page_button("Previous", page - 1))
        if page < len(pages):
            buttons.append(_page_button("Next", page + 1))
        blocks.append(actions(*buttons, block_id=BlockId.SCHEMA_PAGES))
    view = _modal(f"Schema: {request_id}", blocks)
    view["private_metadata"] = request_id
    return view


def _page_button(text: str, page: int) -> dict[str, Any]:
    return button(text, action_id=ActionId.SCHEMA_CHANGES_PAGE, value=str(page))


def _pages(changes: SchemaChanges, request_id: str) -> list[list[Block]]:
    head = section(escape(f"{request_id}: {changes.summary()}"))
    units = [head, *lines_in_sections(map(escape, changes.lines()), max_blocks=1_000)]
    unified = changes.unified(before_label="before the run", after_label="after the run")
    if unified:
        units.append(context(f"sha256 {changes.sha256()[:16]}… · as a unified diff:"))
        units += code_sections(unified, max_blocks=10_000)
    return [units[i : i + PAGE_BLOCKS] for i in range(0, len(units), PAGE_BLOCKS)] or [[head]]


def _modal(title: str, blocks: list[Block]) -> dict[str, Any]:
    if len(blocks) > MODAL_BLOCKS:
        blocks = [*blocks[: MODAL_BLOCKS - 1], context("… cut to fit a modal")]
    return {
        "type": "modal",
        "title": plain(title, MODAL_TITLE),
        "close": plain("Close", 24),
        "blocks": blocks,
    }


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %H:%M UTC")
