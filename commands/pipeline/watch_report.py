"""The watch's arithmetic and its report: before/after figures from counter samples.

Pure. ``pg_stat_statements`` and ``pg_stat_user_tables`` only count up, so a
period's figures are the difference of two samples. "Before the run" is the
period from a sample taken before approval (at the request's pre-flight) to
the run's start; without such a sample (a break-glass run, statistics reset
in between) it is everything since the statistics were reset, and the report
says so. "After" is from the run's end to the watch's end.

A statement regressed when its mean time after is ``watch_slowdown`` times
its mean before (and at least ``MIN_SLOWER_MS`` more), with ``watch_min_calls``
calls in each period. A table has new sequential scans when it has more than
``checks.small_table_rows`` rows and its rate of sequential scans after is
``watch_slowdown`` times the rate before (any, when there were none). The
application's failures (rollbacks, conflicts, deadlocks) are judged in
``watch_failures``. "No regression" is said only when every signal was read;
the report names the signals it read and those it could not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commands.config.live_use import WatchSettings
from commands.pipeline.watch_failures import Failures, failures_between
from commands.postgres.database_activity import DatabaseActivity
from commands.postgres.statement_stats import UsageSample
from commands.units import format_duration, format_rows

MIN_SLOWER_MS = 0.5  # below this a "2x" is noise: 0.02 ms to 0.04 ms tells nothing
STATEMENTS_REPORTED = 10
SHORT_SQL = 90
_PERIOD_KEYS = ("kind", "start", "end")
WINDOW = "window"
SINCE_RESET = "since_reset"

Counters = Mapping[str, tuple[int, float]]


@dataclass(frozen=True)
class Before:
    """The counters of the period before the run, and what that period was."""

    kind: str  # WINDOW (a sample before approval → the run's start) or SINCE_RESET
    start: datetime | None
    end: datetime
    statements: Counters
    tables: Mapping[str, tuple[int, int]]  # sequential scans in the period, rows
    activity: DatabaseActivity | None = None  # the database's transactions in the period

    @property
    def seconds(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.start else None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat(),
            "statements": {k: [c, round(t, 3)] for k, (c, t) in self.statements.items()},
            "tables": {k: list(v) for k, v in self.tables.items()},
            "activity": None if self.activity is None else self.activity.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Before:
        return cls(
            kind=data["kind"],
            start=datetime.fromisoformat(data["start"]) if data.get("start") else None,
            end=datetime.fromisoformat(data["end"]),
            statements={k: (int(v[0]), float(v[1])) for k, v in data["statements"].items()},
            tables={k: (int(v[0]), int(v[1])) for k, v in data["tables"].items()},
            activity=DatabaseActivity.from_json(data.get("activity")),
        )


def _delta(
    later: Counters, earlier: Counters, *, complete: bool = True
) -> dict[str, tuple[int, float]] | None:
    """``later - earlier`` per statement; None when a counter went down (a reset). A key
    ``earlier`` lacks had not run yet when ``earlier`` is ``complete``, else is left out."""
    found = {}
    for key, (calls, total) in later.items():
        if key in earlier or complete:
            calls_before, total_before = earlier.get(key, (0, 0.0))
            if calls < calls_before:
                return None
            found[key] = (calls - calls_before, total - total_before)
    return found


def before_run(earlier: UsageSample | None, at_start: UsageSample) -> Before:
    """The period before the run: from ``earlier`` when it is comparable, else since reset."""
    if earlier is not None and earlier.stats_reset == at_start.stats_reset:
        statements = _delta(at_start.statements, earlier.statements, complete=earlier.complete)
        scans = _delta(
            {k: (s, 0.0) for k, (s, _) in at_start.tables.items()},
            {k: (s, 0.0) for k, (s, _) in earlier.tables.items()},
        )
        if statements is not None and scans is not None:
            tables = {k: (calls, at_start.tables[k][1]) for k, (calls, _) in scans.items()}
            activity = (
                at_start.database.minus(earlier.database)
                if at_start.database is not None and earlier.database is not None
                else None
            )
            return Before(WINDOW, earlier.at, at_start.at, statements, tables, activity)
    return Before(SINCE_RESET, at_start.stats_reset, at_start.at, at_start.statements, {})


@dataclass(frozen=True)
class SlowStatement:
    queryid: str
    text: str
    calls_before: int
    mean_before_ms: float
    calls_after: int
    mean_after_ms: float

    @property
    def ratio(self) -> float:
        return self.mean_after_ms / self.mean_before_ms if self.mean_before_ms else float("inf")


@dataclass(frozen=True)
class NewScans:
    table: str
    rows: int
    before: int | None  # sequential scans in the period before (None: not known)
    after: int


@dataclass(frozen=True)
class Health:
    """The health URL's answers during the watch."""

    url: str
    checks: int = 0
    failures: int = 0
    first_error: str | None = None
    since: datetime | None = None  # when this process began checking

    def after(self, ok: bool, error: str | None, at: datetime) -> Health:
        return Health(
            self.url,
            self.checks + 1,
            self.failures + (not ok),
            self.first_error or (None if ok else error),
            self.since or at,
        )


@dataclass(frozen=True)
class WatchReport:
    """What the watch found: slower statements, new sequential scans, health errors."""

    request_id: str
    target: str
    start: datetime
    end: datetime
    planned_s: float
    before: Before
    compared: int
    slowed: tuple[SlowStatement, ...] = ()
    scans: tuple[NewScans, ...] = ()
    health: Health | None = None
    notes: tuple[str, ...] = ()
    final: bool = True
    statements_available: bool = True
    failures: Failures | None = None
    signals: tuple[str, ...] = ()  # what was read: "statements", "failures", …
    unread: tuple[str, ...] = ()  # what could not be, each with why

    @property
    def regressed(self) -> bool:
        failed = self.failures is not None and self.failures.regressed
        return bool(self.slowed or self.scans or (self.health and self.health.failures) or failed)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "target": self.target,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "planned_s": self.planned_s,
            "before": {k: v for k, v in self.before.to_json().items() if k in _PERIOD_KEYS},
            "compared": self.compared,
            "slowed": [s.__dict__ for s in self.slowed],
            "scans": [s.__dict__ for s in self.scans],
            "health": None if self.health is None else _health_json(self.health),
            "notes": list(self.notes),
            "final": self.final,
            "statements_available": self.statements_available,
            "failures": None if self.failures is None else self.failures.to_json(),
            "signals": list(self.signals),
            "unread": list(self.unread),
            "regressed": self.regressed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WatchReport:
        before = data["before"]
        health = data.get("health")
        return cls(
            request_id=data["request_id"],
            target=data["target"],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            planned_s=float(data["planned_s"]),
            before=Before.from_json({**before, "statements": {}, "tables": {}}),
            compared=int(data["compared"]),
            slowed=tuple(SlowStatement(**s) for s in data.get("slowed", ())),
            scans=tuple(NewScans(**s) for s in data.get("scans", ())),
            health=None if health is None else _health_from(health),
            notes=tuple(data.get("notes", ())),
            final=bool(data.get("final", True)),
            statements_available=bool(data.get("statements_available", True)),
            failures=Failures.from_json(data.get("failures")),
            signals=tuple(data.get("signals", ())),
            unread=tuple(data.get("unread", ())),
        )


def _health_json(health: Health) -> dict[str, Any]:
    return {**health.__dict__, "since": health.since.isoformat() if health.since else None}


def _health_from(data: Mapping[str, Any]) -> Health:
    since = data.get("since")
    return Health(**{**data, "since": datetime.fromisoformat(since) if since else None})


@dataclass(frozen=True)
class Comparison:
    """``compare``'s answer: what to put in the report."""

    compared: int
    slowed: tuple[SlowStatement, ...] = field(default=())
    scans: tuple[NewScans, ...] = field(default=())
    failures: Failures | None = None


def compare(
    before: Before,
    start: UsageSample,
    end: UsageSample,
    *,
    settings: WatchSettings,
    small_table_rows: int,
) -> Comparison:
    """Statements slower after than before, tables with new sequential scans, and the
    application's failures against before."""
    after = _delta(end.statements, start.statements, complete=start.complete) or {}
    slowed, compared = [], 0
    for key, (calls_before, total_before) in before.statements.items():
        calls_after, total_after = after.get(key, (0, 0.0))
        if min(calls_before, calls_after) < settings.min_calls:
            continue
        compared += 1
        mean_before, mean_after = total_before / calls_before, total_after / calls_after
        slower = mean_after - mean_before >= MIN_SLOWER_MS
        if slower and mean_after >= settings.slowdown * mean_before:
            slowed.append(
                SlowStatement(
                    key, f"queryid {key}", calls_before, mean_before, calls_after, mean_after
                )
            )
    slowed.sort(key=lambda s: -(s.mean_after_ms - s.mean_before_ms) * s.calls_after)
    scans = _new_scans(before, start, end, settings, small_table_rows)
    failures = failures_between(
        before.activity,
        before.seconds,
        start.database,
        end.database,
        after_s=(end.at - start.at).total_seconds(),
        slowdown=settings.slowdown,
    )
    return Comparison(compared, tuple(slowed[:STATEMENTS_REPORTED]), scans, failures)


def _new_scans(
    before: Before,
    start: UsageSample,
    end: UsageSample,
    settings: WatchSettings,
    small_table_rows: int,
) -> tuple[NewScans, ...]:
    if before.seconds is None or before.seconds <= 0:
        return ()  # no period before the run to compare a rate with
    after_s = max((end.at - start.at).total_seconds(), 1e-3)
    found = []
    for table, (scans_end, rows) in end.tables.items():
        if rows <= small_table_rows or table not in start.tables:
            continue
        after = scans_end - start.tables[table][0]
        earlier = before.tables.get(table)
        if after < settings.min_calls or earlier is None:
            continue
        rate_before = earlier[0] / before.seconds
        if after / after_s > settings.slowdown * rate_before:
            found.append(NewScans(table, rows, earlier[0], after))
    return tuple(sorted(found, key=lambda s: -s.after))


# the report in words, for the thread, the ops channel and the terminal -----------------


def verdict(report: WatchReport) -> str:
    """What regressed in a few words; 'no regression' only when every signal was read."""
    if not report.regressed:
        if report.unread:
            return f"no regression seen, but {_unread_words(report)}"
        return "no regression"
    parts = [*(report.failures.verdict_parts() if report.failures else [])]
    if report.slowed:
        parts.append(f"{len(report.slowed)} statement(s) slower")
    if report.scans:
        parts.append(f"new sequential scans on {', '.join(s.table for s in report.scans)}")
    if report.health and report.health.failures:
        parts.append(f"{report.health.failures} health URL error(s)")
    return ", ".join(parts)


def _unread_words(report: WatchReport) -> str:
    return "not everything was read: " + "; ".join(report.unread)


def describe(report: WatchReport) -> list[str]:
    """The periods compared and each figure, one line each (names in backticks)."""
    lines = [
        f"After: {_time(report.start)} → {_time(report.end)} ({format_duration(report.seconds)})",
        _before_line(report.before),
    ]
    if report.failures is not None:
        lines.append(report.failures.line())
    if not report.statements_available:
        lines.append("Statements not compared: pg_stat_statements was not readable")
    else:
        lines.append(f"{report.compared} statement(s) with enough calls compared")
    for slow in report.slowed:
        ratio = f"{slow.ratio:.1f} times" if slow.mean_before_ms else "from nothing"
        lines.append(
            f"• `{_short(slow.text)}` mean {_ms(slow.mean_before_ms)} →"
            f" {_ms(slow.mean_after_ms)} ({ratio}); {slow.calls_before:,} calls before,"
            f" {slow.calls_after:,} after"
        )
    for scans in report.scans:
        before = "none" if not scans.before else f"{scans.before:,}"
        lines.append(
            f"• `{scans.table}` ({format_rows(scans.rows)}): {scans.after:,} sequential"
            f" scan(s) after, {before} before"
        )
    health = report.health
    if health is not None:
        failed = f", {health.failures} failed (first: {health.first_error})"
        lines.append(
            f"Health URL: {health.checks} check(s){failed if health.failures else ', all 2xx'}"
        )
    if report.signals:
        lines.append(f"Signals read: {', '.join(report.signals)}")
    if report.unread:
        lines.append(f"Not read: {'; '.join(report.unread)}")
    return lines


def _before_line(before: Before) -> str:
    if before.kind == WINDOW and before.start is not None:
        span = format_duration((before.end - before.start).total_seconds())
        return (
            f"Before: {_time(before.start)} → {_time(before.end)} ({span}, from the request's"
            " pre-flight to the run's start)"
        )
    if before.start is not None:
        return f"Before: everything since the statistics were reset at {_time(before.start)}"
    return "Before: everything since the statistics were last reset (no sample before approval)"


def _time(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S %Z").strip() if at else "?"


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHORT_SQL else flat[: SHORT_SQL - 1] + "…"
