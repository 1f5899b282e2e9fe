"""A run's or a rehearsal's score into the audit log (``forecast_scored``), from the forecast the
pre-flight recorded: the event the learned rates, the report and the metrics read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from audit.store import EventStore
from commands.checks.forecast.model import Forecast
from commands.checks.forecast.scoring import Score, score
from commands.state.vocabulary import EventKind

CHECK = "forecast"


def recorded_forecast(checks: Iterable[Mapping[str, Any]]) -> Forecast | None:
    """The forecast among a pre-flight's recorded checks (as ``Request.preflight`` holds
    them), or None when there was none (switched off, nothing to run, an older bot)."""
    found = (check_forecast_data(c) for c in checks if c.get("name") == CHECK)
    return next((f for f in found if f is not None), None)


def check_forecast_data(check: Mapping[str, Any] | None) -> Forecast | None:
    """The forecast one recorded ``forecast`` check holds, or None (data this bot cannot
    read, or a check that had nothing to forecast)."""
    data = check.get("data") if check else None
    if not isinstance(data, Mapping) or "revisions" not in data:
        return None
    try:
        return Forecast.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None


def scored(
    forecast: Forecast | None, actual: Sequence[tuple[str, float]], *, source: str
) -> Score | None:
    """``actual`` (revision, seconds, in order) against ``forecast``; None when there was no
    forecast or nothing ran."""
    if forecast is None or not actual:
        return None
    return score(forecast, actual, source=source)


def record_score(
    store: EventStore, scored_run: Score, *, target: str, actor: str, request_id: str | None
) -> None:
    """Append the ``forecast_scored`` event the learned rates, the report and the metrics read."""
    store.append(
        kind=EventKind.FORECAST_SCORED,
        actor=actor,
        request_id=request_id,
        target=target,
        data=scored_run.to_json(),
    )
