"""Metrics folded from the audit log: requests by kind and outcome, run, backup and revision
durations, how far from their forecast revisions ran, approvals waiting, the age of each
target's last good backup, each database's schema drift and when it was last checked.

The log is the truth, so the counts are read from it rather than counted in
``commands``: the totals are a projection of the events (``metric_totals``,
kept in the transactions that append them, so they survive restarts and every
process on the state reports the same), read at each scrape; what is "now"
(approvals waiting, backup ages) is worked out at the scrape from the request
index and those totals.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from audit.store import Clock, EventStore, utc_now
from bot.metrics.metric_totals import (
    BACKUP_SECONDS,
    BUCKETS,
    COUNTER,
    DRIFT,
    DRIFT_CHECKED_AT,
    DRIFT_COUNT,
    FORECAST_RATIO,
    INF,
    LAST_BACKUP,
    METRIC_TOTALS,
    REQUESTS,
    REVISION_SECONDS,
    RUN_SECONDS,
    SUM,
    TOTALS,
)
from commands.requests import RequestService
from commands.state.vocabulary import RequestState

HISTOGRAMS = {
    RUN_SECONDS: ("How long runs took, from their start to their outcome.", ["kind", "outcome"]),
    BACKUP_SECONDS: ("How long verified backups took (dump, check, store).", ["target"]),
    REVISION_SECONDS: ("How long each applied revision took.", ["target"]),
    FORECAST_RATIO: (
        "Actual over forecast time of each revision that took 1 s or more (2 = twice as"
        " long as forecast), by target and source (run or rehearsal).",
        ["target", "source"],
    ),
}
Totals = dict[str, dict[tuple[str, ...], dict[str, float]]]  # metric → labels → bucket → value


class AuditMetrics(Collector):
    """A Prometheus collector over one bot's audit log (``registry.register(it)``)."""

    def __init__(self, store: EventStore, requests: RequestService, clock: Clock = utc_now):
        self._store = store
        self._requests = requests
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        totals = self._totals()
        requests = CounterMetricFamily(
            "migrate_bot_requests",
            "Requests that ended, by kind (upgrade, downgrade, restore) and outcome.",
            labels=["kind", "outcome"],
        )
        for labels, values in totals[REQUESTS].items():
            requests.add_metric(list(labels), values[COUNTER])
        yield requests
        for metric, (documentation, names) in HISTOGRAMS.items():
            family = HistogramMetricFamily(f"migrate_bot_{metric}", documentation, labels=names)
            for labels, values in totals[metric].items():
                family.add_metric(list(labels), _cumulative(metric, values), values.get(SUM, 0.0))
            yield family
        yield self._waiting()
        backups = GaugeMetricFamily(
            "migrate_bot_last_backup_age_seconds",
            "Seconds since each target's last successful backup.",
            labels=["target"],
        )
        now = self._clock().timestamp()
        for (target,), values in sorted(totals[LAST_BACKUP].items()):
            backups.add_metric([target], now - values[COUNTER])
        yield backups
        yield from _drift_metrics(totals)

    def _totals(self) -> Totals:
        totals: Totals = defaultdict(lambda: defaultdict(dict))
        rows = self._store.query(
            METRIC_TOTALS, f"SELECT metric, labels, bucket, value FROM {TOTALS}"
        )
        for metric, labels, bucket, value in rows:
            totals[metric][tuple(json.loads(labels))][bucket] = float(value)
        return totals

    def _waiting(self) -> GaugeMetricFamily:
        """Requests awaiting approval now, per target (found through the request index);
        every configured target has a value, so an alert can tell zero from "no data"."""
        awaiting = self._requests.requests(states=[RequestState.AWAITING_APPROVAL], limit=10_000)
        waiting = dict.fromkeys(self._requests.config.targets, 0)
        for request in awaiting:
            waiting[request.target] = waiting.get(request.target, 0) + 1
        gauge = GaugeMetricFamily(
            "migrate_bot_approvals_waiting",
            "Requests waiting for an approval now, by target.",
            labels=["target"],
        )
        for target, count in sorted(waiting.items()):
            gauge.add_metric([target], count)
        return gauge


def _drift_metrics(totals: Totals) -> Iterator[Metric]:
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
    for (target,), values in sorted(totals[DRIFT].items()):
        drift.add_metric([target], values[DRIFT_COUNT])
        checked.add_metric([target], values[DRIFT_CHECKED_AT])
    yield drift
    yield checked


def _cumulative(metric: str, values: dict[str, float]) -> list[tuple[str, float]]:
    """The ``le`` buckets Prometheus wants (each counts every observation at or below it)
    from the per-bucket counts kept."""
    buckets, seen = [], 0.0
    for bound in BUCKETS[metric]:
        seen += values.get(str(bound), 0.0)
        buckets.append((str(float(bound)), seen))  # Prometheus spells these bounds so
    buckets.append((INF, seen + values.get(INF, 0.0)))
    return buckets
