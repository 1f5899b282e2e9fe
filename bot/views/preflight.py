"""A request's recorded pre-flight as the approver reads it: ✅ / ⚠️ / ❌ per check,
the lint findings in plain words (sized against the live tables), the rehearsal's estimate.

It renders what the audit log holds (``Request.preflight``), so a message
drawn again after a restart shows the same checks the approver judged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from bot.views.blocks import Block, code, escape, lines_in_sections, section
from bot.views.forecast import forecast_lines, forecast_summary
from bot.views.ids import BlockId
from bot.views.live_use import live_use_lines
from commands.requests.model import Preflight, Request
from commands.requests.wording import format_time
from commands.state.vocabulary import BEFORE_RUN_STATES

ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "skip": "⏭️"}
FINDING_ICONS = {"fail": "❌", "warn": "⚠️", "note": "•"}
NOTES_SHOWN = 6
MAX_BLOCKS = 5
REHEARSAL = "rehearsal"
LIVE_USE = "live_use"
FORECAST = "forecast"
LABELS = {REHEARSAL: "Rehearsal estimate", FORECAST: "Forecast"}


def request_preflight_blocks(request: Request) -> list[Block]:
    """A request's pre-flight: in full while it waits to run, one line once it ran."""
    if request.state in BEFORE_RUN_STATES:
        return preflight_blocks(request.preflight)
    return [section(preflight_line(request.preflight), block_id=BlockId.PREFLIGHT)]


def preflight_blocks(preflight: Preflight | None) -> list[Block]:
    """The checks, one line each, with the lint findings under ``lint``."""
    if preflight is None:
        return [section("*Pre-flight* ⏳ checking…", block_id=BlockId.PREFLIGHT)]
    checks = [c for c in preflight.checks if isinstance(c, Mapping)]
    verdict = _verdict(preflight, checks)
    when = format_time(preflight.at)
    lines = [f"*Pre-flight* {verdict} _(checked {when})_"]
    skipped = []
    for check in checks:
        name = str(check.get("name", "?"))
        if check.get("verdict") == "skip":
            skipped.append(name)
            continue
        icon = ICONS.get(str(check.get("verdict")), "•")
        label = LABELS.get(name, name)
        summary = check.get("summary", "")
        text = forecast_summary(check) if name == FORECAST else escape(str(summary))
        lines.append(f"{icon} *{escape(label)}* {text}")
        lines += [f"    {line}" for line in _under(name, check)]
    if skipped:
        lines.append(f"⏭️ _skipped: {escape(', '.join(skipped))}_")
    return lines_in_sections(lines, max_blocks=MAX_BLOCKS, block_id=BlockId.PREFLIGHT)


def _under(name: str, check: Mapping[str, Any]) -> list[str]:
    """What a check shows under its line: findings, evidence, the forecast's revisions."""
    if name == LIVE_USE:
        return live_use_lines(check)
    if name == FORECAST:
        return forecast_lines(check)
    return _findings(check)


def preflight_line(preflight: Preflight | None) -> str:
    """The pre-flight in one line, for a request past its decision."""
    if preflight is None:
        return "*Pre-flight* not recorded"
    checks = [c for c in preflight.checks if isinstance(c, Mapping)]
    counted = Counter(str(c.get("verdict")) for c in checks)
    tally = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counted.items()))
    verdict = _verdict(preflight, checks).split(":")[0]
    return f"*Pre-flight* {verdict} ({tally}) _at {format_time(preflight.at)}_"


def pending_revisions(request: Request) -> list[tuple[str, str]]:
    """(id, message) of each revision the request runs, as its pre-flight listed them."""
    messages: dict[str, str] = {}
    for check in request.preflight.checks if request.preflight else ():
        if isinstance(check, Mapping) and check.get("name") == "alembic":
            for detail in check.get("details") or ():
                revision, _, message = str(detail).partition("  ")
                messages[revision.strip()] = message.strip()
    return [(rev, messages.get(rev, "")) for rev in request.fingerprint.revision_ids]


def _verdict(preflight: Preflight, checks: Sequence[Mapping[str, Any]]) -> str:
    if not preflight.passed:
        return "❌ failed: approval is blocked until it passes"
    if any(c.get("verdict") == "warn" for c in checks):
        return "⚠️ passed with warnings: read them before approving"
    return "✅ all checks passed"


def _findings(check: Mapping[str, Any]) -> list[str]:
    """Lint findings, worst first, in the approver's words; notes past a few are counted;
    then the revisions that could not be linted (their SQL is not available offline)."""
    data = check.get("data")
    findings = data.get("findings") if isinstance(data, Mapping) else None
    if not isinstance(findings, list):
        return []
    unlinted = data.get("not_linted") if isinstance(data, Mapping) else None
    return _ranked(findings) + [
        f"⚠️ {code(str(item.get('revision', '?')))}: not linted: {escape(str(item.get('note')))}"
        for item in (unlinted if isinstance(unlinted, list) else [])
        if isinstance(item, Mapping)
    ]


def _ranked(findings: list[Any]) -> list[str]:
    ranked = sorted(
        (f for f in findings if isinstance(f, Mapping)),
        key=lambda f: (
            ("fail", "warn", "note").index(str(f.get("level")))
            if f.get("level") in ("fail", "warn", "note")
            else 3
        ),
    )
    lines, notes = [], 0
    for finding in ranked:
        level = str(finding.get("level"))
        if level == "note":
            notes += 1
            if notes > NOTES_SHOWN:
                continue
        icon = FINDING_ICONS.get(level, "•")
        where = f"{code(str(finding.get('revision', '?')))} #{finding.get('statement_number', '?')}"
        lines.append(f"{icon} {where}: {escape(str(finding.get('sentence', '')))}")
    if notes > NOTES_SHOWN:
        lines.append(f"• … and {notes - NOTES_SHOWN} more notes")
    return lines
