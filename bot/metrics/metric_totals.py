"""The audit log's metrics folded into a table as the events are appended.

A projection (``audit.projections``): requests that ended by kind and
outcome, and the histograms of run, backup and revision durations and of
revisions' time over their forecast, are rows
of ``metric_totals`` that each event adds to in the transaction appending
it (a histogram's observation adds one to its bucket and its value to its
sum), and each target's last good backup and last drift check are set
there, so a scrape reads a few dozen rows whatever the history's length, and
every process on the same state reads the same totals. Each request is
counted once, when its fold first reads as ended (``metric_counted``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime

from audit.chain import Event
from audit.projections import Projection, Transaction
from commands.checks.forecast.accuracy import TIMED_S
from commands.checks.forecast.scoring import Score
from commands.requests.errors import RequestNotFoundError
from commands.requests.folds import load
from commands.state.vocabulary import EventKind, StepStatus

TOTALS = "metric_totals"
COUNTED = "metric_counted"
SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TOTALS} (
    metric TEXT NOT NULL,
    labels TEXT NOT NULL,
    bucket TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (metric, labels, bucket)
);
CREATE TABLE IF NOT EXISTS {COUNTED} (request_id TEXT PRIMARY KEY);
"""
COUNTER = ""  # the bucket of a plain total
SUM = "sum"  # a histogram's sum; its other buckets are upper bounds, or INF
INF = "+Inf"
LAST_BACKUP = "last_backup"  # per target: the time of its last good backup (epoch seconds)
DRIFT = "schema_drift"  # per target: the last drift check's differences, and when
DRIFT_COUNT = "count"  # -1: it could not be checked
DRIFT_CHECKED_AT = "checked_at"  # epoch seconds
REQUESTS = "requests"
RUN_SECONDS = "run_duration_seconds"
BACKUP_SECONDS = "backup_duration_seconds"
REVISION_SECONDS = "revision_duration_seconds"
FORECAST_RATIO = "forecast_ratio"  # actual over forecast time, per revision timed
BUCKETS = {
    RUN_SECONDS: (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
    BACKUP_SECONDS: (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
    REVISION_SECONDS: (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
    FORECAST_RATIO: (0.25, 0.5, 0.67, 0.8, 1.25, 1.5, 2, 4, 8),
}
CLOSING = frozenset(
    {
        EventKind.REQUEST_REJECTED,
        EventKind.REQUEST_CANCELLED,
        EventKind.REQUEST_EXPIRED,
        EventKind.SCHEDULE_MISSED,
        EventKind.RUN_FINISHED,
        EventKind.RUN_INTERRUPTED,
    }
)
_ADD = (
    f"INSERT INTO {TOTALS} (metric, labels, bucket, value) VALUES (?, ?, ?, ?)"
    f" ON CONFLICT (metric, labels, bucket) DO UPDATE SET value = {TOTALS}.value + excluded.value"
)
_SET = (
    f"INSERT INTO {TOTALS} (metric, labels, bucket, value) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (metric, labels, bucket) DO UPDATE SET value = excluded.value"
)


class MetricTotals:
    """The ``metric_totals`` projection."""

    name = TOTALS
    sqlite_schema = SQLITE_SCHEMA

    def apply(self, tx: Transaction, events: Sequence[Event]) -> None:
        for event in events:
            kind = event.kind
            if kind in CLOSING and event.request_id:
                self._closed(tx, event.request_id)
            elif kind == EventKind.BACKUP_SUCCEEDED and event.target:
                at = datetime.fromisoformat(event.ts).timestamp()
                tx.execute(_SET, (LAST_BACKUP, _labels(event.target), COUNTER, at))
                total = (event.data.get("durations_s") or {}).get("total")
                if isinstance(total, int | float):
                    _observe(tx, BACKUP_SECONDS, [event.target], float(total))
            elif kind == EventKind.DRIFT_CHECKED and event.target:
                known = event.data.get("state") != "unknown"
                count = int(event.data.get("count", 0)) if known else -1
                at = datetime.fromisoformat(event.ts).timestamp()
                tx.execute(_SET, (DRIFT, _labels(event.target), DRIFT_COUNT, count))
                tx.execute(_SET, (DRIFT, _labels(event.target), DRIFT_CHECKED_AT, at))
            elif kind == EventKind.RUN_STEP and _revision_applied(event):
                target = event.target or ""
                _observe(tx, REVISION_SECONDS, [target], float(event.data["duration_s"]))
            elif kind == EventKind.FORECAST_SCORED:
                scored = Score.from_json(event.data)
                for revision in scored.revisions:
                    if revision.ratio is not None and revision.actual >= TIMED_S:
                        labels = [event.target or "", scored.source]
                        _observe(tx, FORECAST_RATIO, labels, revision.ratio)

    def clear(self, tx: Transaction) -> None:
        tx.execute(f"DELETE FROM {TOTALS}")
        tx.execute(f"DELETE FROM {COUNTED}")

    def _closed(self, tx: Transaction, request_id: str) -> None:
        """A request that ended, counted once (a closing event its fold did not take, as a
        late stop of a request already ended, leaves it as it was)."""
        if tx.execute(f"SELECT 1 FROM {COUNTED} WHERE request_id = ?", (request_id,)):
            return
        try:
            request = load(tx, request_id)
        except RequestNotFoundError:
            return
        if not request.state.is_final:
            return
        tx.execute(f"INSERT INTO {COUNTED} (request_id) VALUES (?)", (request_id,))
        labels = [request.kind.value, request.state.value]
        tx.execute(_ADD, (REQUESTS, _labels(*labels), COUNTER, 1))
        if request.run is not None and request.closure is not None:
            took = (request.closure.at - request.run.started_at).total_seconds()
            _observe(tx, RUN_SECONDS, labels, max(0.0, took))


METRIC_TOTALS: Projection = MetricTotals()


@functools.lru_cache(maxsize=1024)
def _labels(*values: str) -> str:
    return json.dumps(list(values))


def _observe(tx: Transaction, metric: str, labels: Sequence[str], value: float) -> None:
    bucket = next((str(bound) for bound in BUCKETS[metric] if value <= bound), INF)
    tx.execute(_ADD, (metric, _labels(*labels), bucket, 1))
    tx.execute(_ADD, (metric, _labels(*labels), SUM, value))


def _revision_applied(event: Event) -> bool:
    data = event.data
    return (
        bool(data.get("revision"))
        and data.get("status") == StepStatus.SUCCEEDED
        and isinstance(data.get("duration_s"), int | float)
    )
