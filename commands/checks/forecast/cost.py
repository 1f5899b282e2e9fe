"""The cost model: each statement's time from its tables' sizes and a rate, and each lock's hold.

A pass over a table takes its size in GB (the heap for a scan, an index build
or a delete; heap, indexes and TOAST for a rewrite or an update, which write
all of it) times the rate of its kind; a range, from the rate's range. A
WHERE clause makes it anything from nothing to the whole table; a LIMIT
caps it. A lock is held from the statement that takes it to the end of its
transaction (Alembic runs each revision in one, and an ``autocommit_block``
outside any), so a catalog-only ``ALTER`` followed by a long ``UPDATE`` in the
same revision holds its ACCESS EXCLUSIVE for the whole ``UPDATE``. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from commands.checks.forecast.classes import Classified, Work, WorkKind
from commands.checks.forecast.facts import table_key
from commands.checks.forecast.locks import LockMode
from commands.checks.forecast.model import (
    ZERO,
    Forecast,
    LockHeld,
    RevisionForecast,
    Span,
    StatementForecast,
    WorkDone,
    lock_rank,
)
from commands.checks.forecast.rates import REVISION_OVERHEAD_S, STATEMENT_OVERHEAD_S, Rates
from commands.checks.sql_statements import Statement
from commands.checks.table_sizes import TableSize

GB = 1024**3


@dataclass(frozen=True)
class PlannedRevision:
    """A revision's statements (Alembic's bookkeeping left out), each with its class and the
    transaction it runs in; ``note`` when its SQL is not available offline."""

    revision: str
    statements: tuple[tuple[Statement, Classified, int], ...] = ()
    note: str | None = None


def forecast_plan(
    target: str,
    revisions: Sequence[PlannedRevision],
    sizes: Mapping[str, TableSize],
    rates: Rates,
) -> Forecast:
    """The forecast of ``revisions`` on tables of ``sizes`` at ``rates``."""
    lookup = {table_key(name): size for name, size in sizes.items()}
    forecasts = tuple(_revision(planned, lookup, rates) for planned in revisions)
    return Forecast(target, forecasts, rates.basis, rates.as_json())


def _revision(
    planned: PlannedRevision, sizes: Mapping[str, TableSize], rates: Rates
) -> RevisionForecast:
    if planned.note is not None:
        return RevisionForecast(planned.revision, (), None, planned.note)
    statements = tuple(
        _statement(statement, classified, sizes, rates)
        for statement, classified, _ in planned.statements
    )
    known = [s.time for s in statements if s.time is not None]
    overhead = Span(REVISION_OVERHEAD_S, REVISION_OVERHEAD_S, REVISION_OVERHEAD_S)
    time = sum(known, overhead)
    holds = _holds(planned, statements, sizes)
    longest = max(holds, key=lock_rank, default=None)
    return RevisionForecast(planned.revision, statements, time, None, longest)


def _statement(
    statement: Statement, classified: Classified, sizes: Mapping[str, TableSize], rates: Rates
) -> StatementForecast:
    work = [_work(w, sizes, rates) for w in classified.work]
    known = [w for w in work if w is not None]
    time = None
    if not classified.opaque and len(known) == len(work):
        base = Span(STATEMENT_OVERHEAD_S, STATEMENT_OVERHEAD_S, STATEMENT_OVERHEAD_S)
        time = sum((w.time for w in known), base)
    reason = classified.reason
    if len(known) < len(work):
        missing = ", ".join(w.table for w in classified.work if table_key(w.table) not in sizes)
        reason = f"{reason}; the size of {missing} is not known"
    return StatementForecast(
        number=statement.number,
        line=statement.line,
        sql=statement.short,
        effect=classified.effect,
        reason=reason,
        locks=tuple((lock.table, lock.mode) for lock in classified.locks),
        work=tuple(known),
        time=time,
    )


def _work(work: Work, sizes: Mapping[str, TableSize], rates: Rates) -> WorkDone | None:
    size = sizes.get(table_key(work.table))
    if size is None:
        return None
    covered = work_bytes(work, size)
    rate = rates[work.kind]
    seconds = covered / GB * rate.seconds_per_gb
    low = 0.0 if work.partial and work.row_limit is None else seconds * rate.low
    return WorkDone(work.kind, work.table, covered, Span(seconds, low, seconds * rate.high))


def work_bytes(work: Work, size: TableSize) -> int:
    """The bytes one pass covers: the heap, or all of it for a rewrite or an update, capped
    by a LIMIT; nothing on a table not created yet."""
    if not size.exists:
        return 0
    covered = size.total_bytes if work.kind.whole_relation else size.heap_bytes
    if work.row_limit is not None and size.rows:
        covered = int(covered * min(1.0, work.row_limit / size.rows))
    return covered


def plan_work(
    revisions: Sequence[PlannedRevision], sizes: Mapping[str, TableSize]
) -> dict[WorkKind, int]:
    """The bytes of work of each kind the plan does (what is worth calibrating)."""
    lookup = {table_key(name): size for name, size in sizes.items()}
    total: dict[WorkKind, int] = {}
    for planned in revisions:
        for _, classified, _ in planned.statements:
            for work in classified.work:
                size = lookup.get(table_key(work.table))
                if size is not None:
                    total[work.kind] = total.get(work.kind, 0) + work_bytes(work, size)
    return total


def _holds(
    planned: PlannedRevision,
    statements: Sequence[StatementForecast],
    sizes: Mapping[str, TableSize],
) -> list[LockHeld]:
    """Each lock from the statement taking it to the end of its transaction."""
    times = [s.time or ZERO for s in statements]
    transactions = [transaction for _, _, transaction in planned.statements]
    held: list[LockHeld] = []
    seen: set[tuple[int, str, LockMode, bool]] = set()
    for index, (_, classified, transaction) in enumerate(planned.statements):
        until = max(i for i, t in enumerate(transactions) if t == transaction)
        span = sum(times[index + 1 : until + 1], times[index])
        row_locks = {w.table for w in classified.work if w.kind in _ROW_LOCKING}
        for lock in classified.locks:
            rows = lock.table in row_locks
            key = (transaction, table_key(lock.table), lock.mode, rows)
            if key in seen:
                continue
            seen.add(key)
            size = sizes.get(table_key(lock.table))
            held.append(
                LockHeld(
                    lock.table,
                    lock.mode,
                    span,
                    size.total_bytes if size is not None and size.exists else None,
                    planned.revision,
                    rows,
                )
            )
    return held


_ROW_LOCKING = (WorkKind.UPDATE, WorkKind.DELETE)
