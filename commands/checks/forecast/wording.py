"""The forecast in an approver's words, for the card, the thread and the terminal alike.

"~3 min (1 min to 6 min)", "instant", "~2 s ACCESS EXCLUSIVE on segments (38 GB):
reads and writes wait". ``code`` wraps a table name as the front shows
names (Slack's backticks, nothing in a terminal). Pure.
"""

from __future__ import annotations

from collections.abc import Callable

from commands.checks.forecast.model import Forecast, LockHeld, RevisionForecast, Span
from commands.checks.forecast.scoring import Score, ScoredRevision
from commands.units import format_bytes, format_duration

Code = Callable[[str], str]
INSTANT_S = 0.1  # below this a forecast is "instant": catalog-only, once the lock is granted
SUB_SECOND_S = 1.0


def plain(text: str) -> str:
    return text


def span_words(span: Span) -> str:
    """'instant', 'under 1 s', '~41 s (20 s to 1 min 22 s)'."""
    if span.high < INSTANT_S:
        return "instant"
    if span.high < SUB_SECOND_S:
        return "under 1 s"
    point = f"~{format_duration(span.seconds)}"
    return f"{point} ({format_duration(span.low)} to {format_duration(span.high)})"


def hold_words(held: LockHeld, code: Code = plain, *, timed: bool = True) -> str:
    """'~2 s ACCESS EXCLUSIVE on segments (38 GB): reads and writes wait'; a short hold
    says so after the table ('SHARE on jobs (8 MB), under 1 s: writes wait, reads go on');
    ``timed=False`` leaves the time out (the revision's line already says it)."""
    size = f" ({format_bytes(held.table_bytes)})" if held.table_bytes else ""
    lock = f"{held.mode.value} on {code(held.table)}{size}"
    time = span_words(held.time)
    if not timed:
        return f"{lock}: {held.waits}"
    if time in ("instant", "under 1 s"):
        return f"{lock}, {time}: {held.waits}"
    return f"{time.split(' (')[0]} {lock}: {held.waits}"


def total_words(forecast: Forecast) -> str:
    """'~3 min (1 min to 6 min) for 3 revisions' ('at least' when part of it is not forecast)."""
    count = len(forecast.revisions)
    noun = "revision" if count == 1 else "revisions"
    words = span_words(forecast.total)
    prefix = "" if forecast.complete else "at least "
    return f"{prefix}{words} for {count} {noun}"


def summary(forecast: Forecast, code: Code = plain) -> str:
    """The card's line: total, longest lock, basis."""
    parts = [total_words(forecast)]
    longest = forecast.longest_lock
    if longest is not None:
        parts.append(f"longest lock {hold_words(longest, code)}")
    parts.append(forecast.basis)
    return "; ".join(parts)


def revision_words(revision: RevisionForecast, code: Code = plain) -> str:
    """'e2f6a8c0d376: ~12 s (6 s to 24 s); SHARE on segments (2 GB): writes wait, reads go on'."""
    if revision.time is None:
        return f"{code(revision.revision)}: no forecast: {revision.note}"
    words = span_words(revision.time)
    if revision.opaque:
        shown = ", ".join(f"#{s.number}" for s in revision.opaque)
        words = f"at least {words} (statement {shown} runs code: not forecast)"
    lock = revision.longest_lock
    if lock is not None and (lock.blocks_application or lock.time.seconds >= SUB_SECOND_S):
        same = span_words(lock.time) == span_words(revision.time)
        words += f"; {hold_words(lock, code, timed=not same)}"
    return f"{code(revision.revision)}: {words}"


def scored_words(scored: ScoredRevision, code: Code = plain) -> str:
    """'e2f6a8c0d376: took 2 min 40 s, forecast ~2 min (1 min to 4 min): x1.33'."""
    return f"{code(scored.revision)}: took {format_duration(scored.actual)}, {against(scored)}"


def against(scored: ScoredRevision) -> str:
    """'forecast ~2 min (1 min to 4 min): x1.33', '… (outside the range)', 'not forecast'.
    Forecast and actual both under a second: no ratio, which would judge fixed costs only;
    a forecast under a second and a revision that took longer: no ratio either (Dify's
    first revision read 'forecast under 1 s: x2.40')."""
    if scored.forecast is None:
        return "not forecast"
    if scored.forecast.high < SUB_SECOND_S and scored.actual < SUB_SECOND_S:
        return f"forecast {span_words(scored.forecast)}"
    if scored.forecast.high < SUB_SECOND_S:  # a ratio to a sub-second guess reads as x25
        return f"forecast {span_words(scored.forecast)}: longer than that (outside the range)"
    ratio = scored.ratio
    verdict = "" if ratio is None else f": x{ratio:.2f}"
    if scored.in_range is False:
        verdict += " (outside the range)"
    return f"forecast {span_words(scored.forecast)}{verdict}"


def score_words(score: Score) -> str:
    """'3 revisions took 2 min 52 s; forecast ~2 min 10 s (1 min 5 s to 4 min 20 s)'."""
    count = len(score.revisions)
    took = f"{count} revision{'s' * (count != 1)} took {format_duration(score.actual_total)}"
    total = score.forecast_total
    if total is None:
        return f"{took}; not all of them were forecast"
    return f"{took}; forecast {span_words(total)}"
