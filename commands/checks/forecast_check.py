"""The ``forecast`` check: how long each revision will take, which locks it holds and how long.

The plan's offline SQL, classified statement by statement (``forecast/``),
timed from the live tables' sizes at this server's rates, and set against
the target's ``max_duration`` and its maintenance window: a forecast whose
upper bound does not fit warns the approver. It never fails a pre-flight:
the run's own limits stop a run that overstays. Its ``data`` is the whole
forecast, kept in the audit log so the run can be scored against what the
approver saw.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import psycopg

from audit.redact import redact
from commands.checks.context import PreflightContext
from commands.checks.forecast.catalog_facts import schema_facts
from commands.checks.forecast.choice import choose_rates
from commands.checks.forecast.cost import forecast_plan, plan_work
from commands.checks.forecast.facts import table_key
from commands.checks.forecast.model import Forecast
from commands.checks.forecast.planned import planned_revisions
from commands.checks.forecast.probe import run_probe
from commands.checks.forecast.wording import revision_words, summary
from commands.checks.framework import CheckResult, Verdict
from commands.checks.table_sizes import table_sizes
from commands.config.windows import Window, next_opening, open_at
from commands.errors import MigrateBotError
from commands.units import format_duration

NAME = "forecast"


def make_forecast(context: PreflightContext) -> Forecast:
    """The plan's forecast on the context's target (probing it if the rates need it)."""
    statements = [s for listed in context.statements.values() for s in listed if not s.bookkeeping]
    facts = schema_facts(context.conn, statements, server_major=context.server_version[0])
    planned = planned_revisions(context.plan, context.statements, facts)
    sizes = dict(context.table_sizes)
    missing = {
        work.table
        for revision in planned
        for _, classified, _ in revision.statements
        for work in classified.work
        if table_key(work.table) not in {table_key(name) for name in sizes}
    }
    sizes.update(table_sizes(context.conn, sorted(missing)))
    handle = context.handle
    probe = partial(run_probe, handle.database) if context.settings.forecast_probe else None
    rates = choose_rates(
        plan_work(planned, sizes), learned=context.learned, probe=probe, target=handle.name
    )
    return forecast_plan(handle.name, planned, sizes, rates)


def check_forecast(context: PreflightContext) -> CheckResult:
    if context.plan.is_empty:
        return CheckResult(NAME, Verdict.PASS, "nothing to run")
    try:
        forecast = make_forecast(context)
    except (MigrateBotError, psycopg.Error) as exc:  # a forecast never blocks an approval
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CheckResult(NAME, Verdict.WARN, f"no forecast: {redact(reason)}")
    details = tuple(revision_words(r) for r in forecast.revisions)
    data = {**forecast.to_json(), "limits": {}}
    warnings = []
    high = forecast.total.high
    limit = context.handle.config.max_duration
    data["limits"]["max_duration_s"] = limit
    if high > limit:
        warnings.append(
            f"the upper bound {format_duration(high)} is over max_duration"
            f" {format_duration(limit)}: the run would be stopped there"
        )
    config = context.handle.config
    window = window_budget(config.windows, context.clock(), anytime=config.allow_outside_windows)
    if window is not None:
        seconds, words = window
        data["limits"]["window_s"] = seconds
        if high > seconds:
            warnings.append(f"the upper bound {format_duration(high)} is over {words}")
    data["warnings"] = warnings
    line = summary(forecast)
    if warnings:
        return CheckResult(NAME, Verdict.WARN, f"{line}; {'; '.join(warnings)}", details, data)
    return CheckResult(NAME, Verdict.PASS, line, details, data)


def window_budget(
    windows: tuple[Window, ...], now: datetime, *, anytime: bool = False
) -> tuple[float, str] | None:
    """How long a run has in the maintenance window: what is left of the one open now;
    outside one, the next one's length (the run must wait for it) unless the target runs
    at any time (``allow_outside_windows``); None without windows."""
    if not windows:
        return None
    current = open_at(windows, now)
    if current is not None:
        left = (current.end - now).total_seconds()
        return left, f"the {format_duration(left)} left in the maintenance window"
    if anytime:
        return None
    upcoming = next_opening(windows, now)
    if upcoming is None:
        return None
    length = (upcoming.end - upcoming.start).total_seconds()
    return (
        length,
        f"the next maintenance window ({upcoming.window.text}, {format_duration(length)})",
    )
