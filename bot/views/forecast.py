"""The forecast on a request: its line under the pre-flight (total, range, the longest lock and
what it is based on), the warnings, and a line per revision; after the run, each revision's
time beside its forecast. Pure: they read what the audit log recorded (the ``forecast`` check,
the ``forecast_scored`` event), so a message drawn again shows what the approver judged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.views.blocks import SAFE_BACKTICK, escape
from commands.checks.forecast.model import RevisionForecast
from commands.checks.forecast.recording import check_forecast_data
from commands.checks.forecast.scoring import Score
from commands.checks.forecast.wording import against, revision_words, score_words, summary

NAME = "forecast"
REVISIONS_SHOWN = 10


def forecast_summary(check: Mapping[str, Any]) -> str:
    """The check's line: '~3 min (1 min to 6 min) for 3 revisions; longest lock …'."""
    forecast = check_forecast_data(check)
    if forecast is None:
        return escape(str(check.get("summary", "")))
    data = check.get("data") or {}
    against = f" (sized against {data['sized_against']})" if data.get("sized_against") else ""
    return escape(summary(forecast, _code) + against)


def forecast_lines(check: Mapping[str, Any]) -> list[str]:
    """Under it: the warnings (over max_duration, over the window), then each revision."""
    data = check.get("data")
    warnings = data.get("warnings") if isinstance(data, Mapping) else None
    lines = [f"⚠️ {escape(str(w))}" for w in warnings or () if isinstance(w, str)]
    forecast = check_forecast_data(check)
    if forecast is None:
        return lines
    shown = _weightiest(forecast.revisions)
    lines += [f"• {escape(revision_words(r, _code))}" for r in shown]
    hidden = len(forecast.revisions) - len(shown)
    if hidden:
        more = f"{hidden} more revision{'s' * (hidden != 1)}"
        lines.append(f"• … and {more}: `migrate-bot plan {escape(forecast.target)} --forecast`")
    return lines


def _weightiest(revisions: Sequence[RevisionForecast]) -> list[RevisionForecast]:
    """Past ``REVISIONS_SHOWN``, the ones an approver must see (not forecast, long, holding
    a lock the application waits for longest), in plan order."""
    if len(revisions) <= REVISIONS_SHOWN:
        return list(revisions)

    def weight(revision: RevisionForecast) -> tuple[bool, float]:
        held = revision.longest_lock.time.seconds if revision.longest_lock else 0.0
        unknown = revision.time is None or bool(revision.opaque)
        return unknown, max(held, revision.time.seconds if revision.time else 0.0)

    kept = set(sorted(revisions, key=weight, reverse=True)[:REVISIONS_SHOWN])
    return [r for r in revisions if r in kept]


def _code(text: str) -> str:
    """A name as inline code, left unescaped: ``escape`` runs over the whole line after."""
    return f"`{text.replace('`', SAFE_BACKTICK)}`"


def score_headline(score: Score) -> str:
    """The thread's line over the revisions: '*Forecast vs actual* 3 revisions took …'."""
    return f"*Forecast vs actual* {escape(score_words(score))}"


def beside_forecast(score: Score | None, revision: str) -> str:
    """What a revision's line in the thread adds: ' · forecast ~2 s (1 s to 4 s): x1.15'."""
    found = next((r for r in score.revisions if r.revision == revision), None) if score else None
    return f" · {escape(against(found))}" if found is not None else ""
