"""The forecast for the terminal: what the card shows, then every statement's lock and work;
and ``forecast-report``'s table of past runs. Pure functions of recorded data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from commands.checks.forecast.accuracy import Accuracy, ScoredRun
from commands.checks.forecast.learned import Learned
from commands.checks.forecast.model import Forecast, StatementForecast
from commands.checks.forecast.wording import revision_words, span_words, summary
from commands.units import format_count, format_duration

INDENT = "  "


def forecast_text(check: Mapping[str, Any]) -> str:
    """The ``forecast`` check as the card has it, and each statement under its revision."""
    data = check.get("data") or {}
    if "revisions" not in data:
        return f"Forecast: {check.get('summary', '')}"
    forecast = Forecast.from_json(data)
    against = f" (sized against {data['sized_against']})" if data.get("sized_against") else ""
    lines = [f"Forecast: {summary(forecast)}{against}"]
    lines += [f"{INDENT}WARNING {warning}" for warning in data.get("warnings") or ()]
    total = len(forecast.revisions)
    for index, revision in enumerate(forecast.revisions, 1):
        lines.append(f"{INDENT}[{index}/{total}] {revision_words(revision)}")
        lines += [_statement(s) for s in revision.statements]
    return "\n".join(lines)


def _statement(statement: StatementForecast) -> str:
    locks = ", ".join(f"{mode.value} on {table}" for table, mode in statement.locks) or "no lock"
    time = span_words(statement.time) if statement.time is not None else "not forecast"
    head = f"{INDENT * 3}#{statement.number} {statement.sql}"
    return f"{head}\n{INDENT * 4}{statement.effect.value}; {locks}; {time}; {statement.reason}"


def report_text(target: str, runs: Sequence[ScoredRun], score: Accuracy, learned: Learned) -> str:
    """``forecast-report``: each scored run, newest last, then the accuracy and the rates."""
    if not runs:
        return f"No run or rehearsal on {target} was forecast and scored yet."
    lines = [
        f"Forecasts on {target}: {format_count(score.runs, 'run')} and"
        f" {format_count(score.rehearsals, 'rehearsal')} scored",
        f"{INDENT}{'when':<17} {'request':<8} {'source':<10} {'forecast':<34} "
        f"{'actual':>12}  ratio",
    ]
    for run in runs:
        total = run.score.forecast_total
        shown = span_words(total) if total is not None else "not forecast in full"
        ratio = run.score.actual_total / total.seconds if total and total.seconds > 0 else None
        lines.append(
            f"{INDENT}{run.at[:16].replace('T', ' '):<17} {run.request_id or '-':<8}"
            f" {run.score.source:<10} {shown:<34} {format_duration(run.score.actual_total):>12}"
            f"  {f'x{ratio:.2f}' if ratio is not None else '-'}"
        )
    lines += ["", score.sentence()[:1].upper() + score.sentence()[1:] + "."]
    if learned.rates:
        rates = ", ".join(
            f"{kind.value} {rate.seconds_per_gb:.1f} s/GB ({rate.samples} samples)"
            for kind, rate in sorted(learned.rates.items())
        )
        lines.append(f"Rates learned: {rates}.")
    return "\n".join(lines)


def report_json(
    target: str, runs: Sequence[ScoredRun], score: Accuracy, learned: Learned
) -> dict[str, Any]:
    return {
        "target": target,
        "runs": [
            {"at": run.at, "request_id": run.request_id, **run.score.to_json()} for run in runs
        ],
        "accuracy": {
            "runs": score.runs,
            "rehearsals": score.rehearsals,
            "timed_revisions": score.timed,
            "within_2x": score.within,
            "in_range": score.in_range,
            "median_ratio": score.median_ratio,
        },
        "learned_rates_s_per_gb": {
            kind.value: {"rate": rate.seconds_per_gb, "samples": rate.samples}
            for kind, rate in learned.rates.items()
        },
    }
