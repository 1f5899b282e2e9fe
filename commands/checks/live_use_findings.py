"""Which of the application's statements use what a migration breaks, and the sentence
an approver reads about it. Pure: the catalog comes in as two lookups.

A change matches a statement by what the change breaks: a dropped, renamed or
retyped column by any read or write of it (``*`` included); NOT NULL by a
write of the column, or an INSERT that leaves it out when it has no default;
a table or view by any mention; a function by a call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commands.checks.breaking_changes import BreakingChange, ChangeKind
from commands.checks.sql_names import SqlName
from commands.checks.statement_uses import ColumnUse, StatementUses
from commands.postgres.statement_stats import StatementRow
from commands.units import format_count, format_duration

ColumnsOf = Callable[[SqlName], frozenset[str] | None]
"""The columns a table has now (None: the catalog does not know it)."""
HasDefault = Callable[[SqlName, str], bool | None]

TEXT_KEPT = 2000  # characters of a statement's text kept in the audit log
STATEMENTS_KEPT = 5  # statements kept per finding (the most called); all are counted
SHORT_TEXT = 90


@dataclass(frozen=True)
class UsingStatement:
    """One application statement that uses a changed object, and how."""

    row: StatementRow
    reads: bool
    writes: bool
    window_calls: int | None = None  # calls while the bot watched; None: not measured

    @property
    def verb(self) -> str:
        return {(True, False): "reads", (False, True): "writes"}.get(
            (self.reads, self.writes), "reads and writes"
        )


@dataclass(frozen=True)
class LiveUse:
    """A breaking change the application still uses."""

    change: BreakingChange
    statements: tuple[UsingStatement, ...]

    @property
    def calls(self) -> int:
        return sum(s.row.calls for s in self.statements)

    @property
    def window_calls(self) -> int | None:
        counted = [s.window_calls for s in self.statements if s.window_calls is not None]
        return sum(counted) if counted else None

    @property
    def since(self) -> datetime | None:
        """When the oldest statement's counting began (PostgreSQL 17+ keeps it per statement)."""
        starts = [s.row.stats_since for s in self.statements if s.row.stats_since]
        return min(starts) if starts else None


def owners(use: ColumnUse, columns_of: ColumnsOf) -> tuple[SqlName, ...]:
    """The table(s) ``use`` belongs to: the first level whose tables have the column,
    by the catalog; with no catalog answer, the only table of the innermost level."""
    if use.column is None:
        return use.candidates
    for level in use.levels:
        having = [t for t in level if use.column in (columns_of(t) or ())]
        if having:
            return tuple(having)
    return use.candidates if len(use.candidates) == 1 else ()


def how_used(
    change: BreakingChange, uses: StatementUses, columns_of: ColumnsOf, has_default: HasDefault
) -> tuple[bool, bool] | None:
    """(reads, writes) when the statement uses what ``change`` breaks; None when it does not."""
    target = change.target
    if change.kind.on_function:
        return (True, False) if any(target.matches(f) for f in uses.functions) else None
    if not change.kind.on_column:
        if not any(target.matches(r) for r in uses.relations):
            return None
        writes = any(target.matches(w) for w in uses.written)
        return (not writes, writes)
    column = change.column
    hits = [
        use
        for use in uses.columns
        if use.column in (None, column) and any(target.matches(t) for t in owners(use, columns_of))
    ]
    reads = any(not use.writes for use in hits)
    writes = any(use.writes for use in hits)
    if change.kind is ChangeKind.NOT_NULL_ADDED:
        assert column is not None
        reads = False
        omitted = any(
            target.matches(table) and listed is not None and column not in listed
            for table, listed in uses.inserts
        )
        writes = writes or (omitted and not has_default(target, column))
    return (reads, writes) if reads or writes else None


def short_revision(revision: str) -> str:
    return revision if len(revision) <= 12 else revision[:12] + "…"


def short_text(text: str, limit: int = SHORT_TEXT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _verb(found: LiveUse) -> str:
    if found.change.kind.on_function:
        return "calling it"
    reads = any(s.reads for s in found.statements)
    writes = any(s.writes for s in found.statements)
    return {(True, False): "reading it", (False, True): "writing it"}.get(
        (reads, writes), "reading or writing it"
    )


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M %Z").strip()


def last_seen(found: LiveUse, window_s: float) -> str:
    """What the two samples the bot took say: pg_stat_statements keeps no time of last use."""
    window = found.window_calls
    watched = f"the {format_duration(window_s)} the bot watched"
    if window is None:
        return "last seen: not measured (the statistics were reset while the bot watched)"
    if window:
        return f"last seen: now, {format_count(window, 'call')} in {watched}"
    return f"last seen: not in {watched}; pg_stat_statements keeps no time of last use"


def sentence(found: LiveUse, *, stats_reset: datetime | None, window_s: float) -> str:
    """'`videos.youtube_id` is dropped by `4f1c2e7b10a9`, but the application ran 3
    statements reading it 1,204 times since … (last seen: …)'."""
    change = found.change
    count = len(found.statements)
    since = found.since or stats_reset
    since_text = f"since {_time(since)}" if since else "since its statistics were last reset"
    return (
        f"`{change.subject}` {change.what} by `{short_revision(change.revision)}`, but the"
        f" application ran {count} statement{'s' * (count != 1)} {_verb(found)}"
        f" {found.calls:,} time{'s' * (found.calls != 1)} {since_text}"
        f" ({last_seen(found, window_s)})"
    )


def finding_json(
    found: LiveUse, *, level: str, stats_reset: datetime | None, window_s: float
) -> dict[str, Any]:
    """A finding as the audit log keeps it and the views read it."""
    ranked = sorted(found.statements, key=lambda s: -s.row.calls)
    return {
        "level": level,
        "key": found.change.key,
        "revision": found.change.revision,
        "statement_number": found.change.statement_number,
        "change": found.change.kind.value,
        "subject": found.change.subject,
        "sentence": sentence(found, stats_reset=stats_reset, window_s=window_s),
        "calls": found.calls,
        "window_calls": found.window_calls,
        "statement_count": len(found.statements),
        "statements": [_statement_json(s) for s in ranked[:STATEMENTS_KEPT]],
    }


def _statement_json(using: UsingStatement) -> dict[str, Any]:
    row = using.row
    return {
        "queryid": row.queryid,
        "text": row.query[:TEXT_KEPT],
        "short": short_text(row.query),
        "uses": using.verb,
        "calls": row.calls,
        "window_calls": using.window_calls,
        "mean_ms": round(row.mean_ms, 3),
        "roles": list(row.roles),
        "since": row.stats_since.isoformat() if row.stats_since else None,
    }


def match_statements(
    changes: Sequence[BreakingChange],
    parsed: Sequence[tuple[StatementRow, StatementUses]],
    columns_of: ColumnsOf,
    has_default: HasDefault,
) -> list[LiveUse]:
    """Each change with the statements that use it (changes nobody uses left out)."""
    found = []
    for change in changes:
        using = []
        for row, uses in parsed:
            how = how_used(change, uses, columns_of, has_default)
            if how is not None:
                using.append(UsingStatement(row, *how))
        if using:
            found.append(LiveUse(change, tuple(using)))
    return found
