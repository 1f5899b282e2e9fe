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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from audit.store import Clock, utc_now
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import ProjectState
from commands.schema.catalog import read_schema
from commands.schema.compare import Difference, compare
from commands.schema.ddl import ddl
from commands.schema.history import history_schema
from commands.schema.model import IgnoreRules, sha256_json
from commands.schema.replay_cache import ReplayCache
from commands.schema.wording import drift_line
from commands.targets import TargetHandle

DDL_HEADER = (
    "-- What would make the database match its migration history."
    " migrate-bot never runs this: review it first."
)


class DriftState(StrEnum):
    OK = "ok"
    DRIFTED = "drifted"
    UNKNOWN = "unknown"  # could not be checked; ``error`` says why


@dataclass(frozen=True)
class DriftReport:
    """One drift check of one database."""

    target: str
    state: DriftState
    revisions: tuple[str, ...]
    checked_at: datetime
    differences: tuple[Difference, ...] = ()
    ddl: tuple[str, ...] = ()
    error: str | None = None
    cached: bool = False
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def lines(self) -> list[str]:
        return [drift_line(d) for d in self.differences]

    @property
    def digest(self) -> str:
        """What tells one drift from another: the state and the differences (not when)."""
        return sha256_json([self.state.value, [d.to_json() for d in self.differences]])

    def summary(self) -> str:
        """``OK`` / ``DRIFTED: 3 differences from the history at 4f1c7a9e2b87``."""
        at = ", ".join(self.revisions) or "base"
        if self.state is DriftState.UNKNOWN:
            return f"not checked: {self.error}"
        if self.state is DriftState.OK:
            return f"OK: the schema matches the history at {at}"
        count = len(self.differences)
        noun = "difference" if count == 1 else "differences"
        return f"DRIFTED: {count} {noun} from the history at {at}"

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "state": self.state.value,
            "revisions": list(self.revisions),
            "checked_at": self.checked_at.isoformat(),
            "differences": [d.to_json() for d in self.differences],
            "lines": self.lines,
            "ddl": list(self.ddl),
            "error": self.error,
            "cached": self.cached,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "digest": self.digest,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DriftReport:
        return cls(
            target=data["target"],
            state=DriftState(data["state"]),
            revisions=tuple(data["revisions"]),
            checked_at=datetime.fromisoformat(data["checked_at"]),
            differences=tuple(Difference.from_json(d) for d in data["differences"]),
            ddl=tuple(data.get("ddl", ())),
            error=data.get("error"),
            cached=bool(data.get("cached")),
            timings=dict(data.get("timings", {})),
        )


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
    except MigrateBotError as exc:
        return DriftReport(handle.name, DriftState.UNKNOWN, state.current, clock(), error=str(exc))
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
