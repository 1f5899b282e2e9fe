"""Drift: the live schema against what the migration history says it should be.

The history's schema comes from ``history.py`` (replayed once, then cached);
the live one is read now; the version table and the target's
``drift_ignore`` patterns are left out of both. The report is ``OK`` or
``DRIFTED`` with one line per difference and the DDL that would make the
database match the history, or ``UNKNOWN`` with the reason when the history
could not be replayed or the database not read. The same report serves the
pre-flight check, the daily sweep and ``migrate-bot drift``.
"""

from __future__ import annotations

import time

import psycopg

from audit.redact import redact
from audit.store import Clock, utc_now
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import ProjectState
from commands.schema.catalog import read_schema
from commands.schema.compare import compare
from commands.schema.ddl import ddl
from commands.schema.drift_report import DriftReport, DriftState
from commands.schema.history import history_schema
from commands.schema.model import IgnoreRules
from commands.schema.replay_cache import ReplayCache
from commands.targets import TargetHandle


def measure_drift(
    handle: TargetHandle,
    state: ProjectState,
    *,
    cache: ReplayCache,
    fresh: bool = False,
    clock: Clock = utc_now,
) -> DriftReport:
    """Compare ``handle``'s live schema with its history at ``state.current``.

    Never raises for what it cannot do: a history that does not replay or a
    database that cannot be read is an ``UNKNOWN`` report with the reason.
    """
    ignore = IgnoreRules(handle.config.drift.ignore, state.version_table)
    started = time.monotonic()
    try:
        history = history_schema(handle, state, cache=cache, fresh=fresh)
        replayed = time.monotonic()
        live = read_schema(handle.database, clock=clock)
    except (MigrateBotError, psycopg.Error) as exc:  # a check that did not run proves nothing
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DriftReport(
            handle.name, DriftState.UNKNOWN, state.current, clock(), error=redact(reason)
        )
    read = time.monotonic()
    comparison = compare(live.without(ignore), history.schema.without(ignore))
    statements = tuple(ddl(comparison))
    timings = {
        "history_s": replayed - started,
        "alembic_s": history.alembic_s,
        "live_s": read - replayed,
        "compare_s": time.monotonic() - read,
        "total_s": time.monotonic() - started,
    }
    return DriftReport(
        target=handle.name,
        state=DriftState.DRIFTED if comparison.differences else DriftState.OK,
        revisions=state.current,
        checked_at=clock(),
        differences=comparison.differences,
        ddl=statements,
        cached=history.cached,
        timings=timings,
    )
