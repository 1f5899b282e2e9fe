"""The forecast on a request: its line under the pre-flight (total, range, the longest lock and
what it is based on), the warnings, and a line per revision; after the run, each revision's
time beside its forecast. Pure: they read what the audit log recorded (the ``forecast`` check,
the ``forecast_scored`` event), so a message drawn again shows what the approver judged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.views.blocks import SAFE_BACKTICK, escape
from commands.checks.forecast.recording import check_forecast_data
from commands.checks.forecast.scoring import Score
from commands.checks.forecast.wording import (
    revision_words,
    score_words,
    scored_words,
    summary,
)

NAME = "forecast"
REVISIONS_SHOWN = 6


def forecast_summary(check: Mapping[str, Any]) -> str:
    """The check's line: '~3 min (1 min to 6 min) for 3 revisions; longest lock …'."""
    forecast = check_forecast_data(check)
    if forecast is None:
        return escape(str(check.get("summary", "")))
    return escape(summary(forecast, _code))


def forecast_lines(check: Mapping[str, Any]) -> list[str]:
    """Under it: the warnings (over max_duration, over the window), then each revision."""
    data = check.get("data")
    warnings = data.get("warnings") if isinstance(data, Mapping) else None
    lines = [f"⚠️ {escape(str(w))}" for w in warnings or () if isinstance(w, str)]
    forecast = check_forecast_data(check)
    if forecast is None:
        return lines
    shown = forecast.revisions[:REVISIONS_SHOWN]
    lines += [f"• {escape(revision_words(r, _code))}" for r in shown]
    hidden = len(forecast.revisions) - len(shown)
    if hidden:
        more = f"{hidden} more revision{'s' * (hidden != 1)}"
        lines.append(f"• … and {more}: `migrate-bot plan TARGET --forecast`")
    return lines


def _code(text: str) -> str:
    """A name as inline code, left unescaped: ``escape`` runs over the whole line after."""
    return f"`{text.replace('`', SAFE_BACKTICK)}`"


def score_lines(score: Score) -> list[str]:
    """After the run, in its thread: the total beside the forecast, then each revision."""
    return [
        f"*Forecast vs actual* {escape(score_words(score))}",
        *(f"• {escape(scored_words(r, _code))}" for r in score.revisions),
    ]
