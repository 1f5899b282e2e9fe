"""The forecast on a request: its line under the pre-flight (total, range, the longest lock and
what it is based on), the warnings, and a line per revision. Pure: they read the recorded
``forecast`` check, so the message drawn again shows what the approver judged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.views.blocks import SAFE_BACKTICK, escape
from commands.checks.forecast.model import Forecast
from commands.checks.forecast.wording import revision_words, summary

NAME = "forecast"
REVISIONS_SHOWN = 6


def recorded_forecast(check: Mapping[str, Any] | None) -> Forecast | None:
    """The forecast a check recorded, or None (no check, or data this bot cannot read)."""
    data = check.get("data") if check else None
    if not isinstance(data, Mapping) or "revisions" not in data:
        return None
    try:
        return Forecast.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None


def forecast_summary(check: Mapping[str, Any]) -> str:
    """The check's line: '~3 min (1 min to 6 min) for 3 revisions; longest lock …'."""
    forecast = recorded_forecast(check)
    if forecast is None:
        return escape(str(check.get("summary", "")))
    return escape(summary(forecast, _code))


def forecast_lines(check: Mapping[str, Any]) -> list[str]:
    """Under it: the warnings (over max_duration, over the window), then each revision."""
    data = check.get("data")
    warnings = data.get("warnings") if isinstance(data, Mapping) else None
    lines = [f"⚠️ {escape(str(w))}" for w in warnings or () if isinstance(w, str)]
    forecast = recorded_forecast(check)
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
