"""Metrics folded from the audit log: requests by kind and outcome, run, backup and revision
durations, how far from their forecast revisions ran, approvals waiting, the age of each
target's last good backup, each database's schema drift and when it was last checked.

The log is the truth, so the counters are read from it rather than counted in
``commands``: each scrape reads the events appended since the last one (the
first reads the whole log, so the counts are the log's and survive restarts),
and what is "now" (approvals waiting, backup ages) is worked out at the scrape.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from audit.chain import Event
from audit.store import Clock, EventStore, utc_now
from commands.checks.forecast.accuracy import TIMED_S
from commands.checks.forecast.scoring import Score
from commands.requests import Request, RequestService
from commands.state.vocabulary import EventKind, RequestState, StepStatus

RUN_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
BACKUP_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
REVISION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
RATIO_BUCKETS = (0.25, 0.5, 0.67, 0.8, 1.25, 1.5, 2, 4, 8)  # actual over forecast
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


class AuditMetrics(Collector):
    """A Prometheus collector over one bot's audit log (``registry.register(it)``)."""

    def __init__(self, store: EventStore, requests: RequestService, clock: Clock = utc_now):
        self._store = store
        self._requests = requests
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = 0
        self._open: dict[str, str] = {}  # request id -> target, for requests not yet closed
        self._last_backup: dict[str, datetime] = {}
        self._drift: dict[str, tuple[int, datetime]] = {}  # target -> differences, checked at
        self.requests_total = Counter(
            "migrate_bot_requests",
            "Requests that ended, by kind (upgrade, downgrade, restore) and outcome.",
            ["kind", "outcome"],
            registry=None,
        )
        self.run_seconds = Histogram(
            "migrate_bot_run_duration_seconds",
            "How long runs took, from their start to their outcome.",
            ["kind", "outcome"],
            buckets=RUN_BUCKETS,
            registry=None,
        )
        self.backup_seconds = Histogram(
            "migrate_bot_backup_duration_seconds",
            "How long verified backups took (dump, read back, store).",
            ["target"],
            buckets=BACKUP_BUCKETS,
            registry=None,
        )
        self.revision_seconds = Histogram(
            "migrate_bot_revision_duration_seconds",
            "How long each applied revision took.",
            ["target"],
            buckets=REVISION_BUCKETS,
            registry=None,
        )
        self.forecast_ratio = Histogram(
            "migrate_bot_forecast_ratio",
            "Actual over forecast time of each revision that took 1 s or more (2 = twice as"
            " long as forecast), by target and source (run or rehearsal).",
            ["target", "source"],
            buckets=RATIO_BUCKETS,
            registry=None,
        )

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            for event in self._store.iter_events(after_seq=self._seq):
                self._seq = event.seq
                self._take(event)
            now = self._clock()
            waiting = self._waiting()
            ages = {t: (now - at).total_seconds() for t, at in self._last_backup.items()}
        for metric in (self.requests_total, self.run_seconds):
            yield from metric.collect()
        yield from self.backup_seconds.collect()
        yield from self.revision_seconds.collect()
        yield from self.forecast_ratio.collect()
        approvals = GaugeMetricFamily(
            "migrate_bot_approvals_waiting",
            "Requests waiting for an approval now, by target.",
            labels=["target"],
        )
        for target, count in sorted(waiting.items()):
            approvals.add_metric([target], count)
        yield approvals
        backups = GaugeMetricFamily(
            "migrate_bot_last_backup_age_seconds",
            "Seconds since each target's last successful backup.",
            labels=["target"],
        )
        for target, age in sorted(ages.items()):
            backups.add_metric([target], age)
        yield backups
        yield from self._drift_metrics()

    def _drift_metrics(self) -> Iterator[Metric]:
        drift = GaugeMetricFamily(
            "migrate_bot_schema_drift",
            "Differences between each database's schema and its migration history at the last"
            " drift check with no request (0: OK; -1: could not be checked).",
            labels=["target"],
        )
        checked = GaugeMetricFamily(
            "migrate_bot_schema_drift_checked_timestamp_seconds",
            "When each database's drift was last checked (Unix time).",
            labels=["target"],
        )
        for target, (count, at) in sorted(self._drift.items()):
            drift.add_metric([target], count)
            checked.add_metric([target], at.timestamp())
        yield drift
        yield checked

    def _take(self, event: Event) -> None:
        kind, request_id = event.kind, event.request_id
        if kind == EventKind.REQUEST_CREATED and request_id:
            self._open[request_id] = event.target or ""
        elif kind in CLOSING and request_id in self._open:
            del self._open[request_id]
            self._closed(self._requests.get(request_id))
        elif kind == EventKind.BACKUP_SUCCEEDED and event.target:
            self._last_backup[event.target] = datetime.fromisoformat(event.ts)
            total = (event.data.get("durations_s") or {}).get("total")
            if total is not None:
                self.backup_seconds.labels(event.target).observe(float(total))
        elif kind == EventKind.DRIFT_CHECKED and event.target:
            known = event.data.get("state") != "unknown"
            count = int(event.data.get("count", 0)) if known else -1
            self._drift[event.target] = (count, datetime.fromisoformat(event.ts))
        elif kind == EventKind.RUN_STEP and _revision_applied(event):
            self.revision_seconds.labels(event.target or "").observe(event.data["duration_s"])
        elif kind == EventKind.FORECAST_SCORED:
            self._scored(event)

    def _scored(self, event: Event) -> None:
        scored = Score.from_json(event.data)
        for revision in scored.revisions:
            if revision.ratio is not None and revision.actual >= TIMED_S:
                labels = self.forecast_ratio.labels(event.target or "", scored.source)
                labels.observe(revision.ratio)

    def _closed(self, request: Request) -> None:
        """A request that ended: counted once, and its run timed if it ran."""
        if not request.state.is_final:  # a closing event its fold did not take: not ended
            self._open[request.id] = request.target
            return
        kind, outcome = request.kind.value, request.state.value
        self.requests_total.labels(kind, outcome).inc()
        if request.run is not None and request.closure is not None:
            took = (request.closure.at - request.run.started_at).total_seconds()
            self.run_seconds.labels(kind, outcome).observe(max(0.0, took))

    def _waiting(self) -> dict[str, int]:
        """Open requests awaiting approval now, per target (the open ones are few); every
        configured target has a value, so an alert can tell zero from "no data"."""
        waiting = dict.fromkeys([*self._requests.config.targets, *self._open.values()], 0)
        for request_id in self._open:
            request = self._requests.get(request_id)
            if request.state is RequestState.AWAITING_APPROVAL:
                waiting[request.target] += 1
        return waiting


def _revision_applied(event: Event) -> bool:
    data = event.data
    return (
        bool(data.get("revision"))
        and data.get("status") == StepStatus.SUCCEEDED
        and isinstance(data.get("duration_s"), int | float)
    )
