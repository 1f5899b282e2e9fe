"""The state's replication in ``/metrics``: how far behind the replica is, its last
position, whether the replicator runs and how often it was started again."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from commands.state.replica_status import ReplicaStatus


class ReplicationMetrics(Collector):
    """Read at each scrape from the replicator's last probe (no I/O of its own)."""

    def __init__(self, status: Callable[[], ReplicaStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        behind = GaugeMetricFamily(
            "migrate_bot_state_replica_lag_seconds",
            "How long the oldest state transaction the replica does not hold yet has waited"
            " (0: the replica holds everything; NaN: the replicator does not answer).",
        )
        behind.add_metric(
            [], float("nan") if status.seconds_behind is None else status.seconds_behind
        )
        yield behind
        for name, value, what in (
            ("txid", status.txid, "the state file's last transaction id Litestream took in"),
            (
                "replicated_txid",
                status.replicated_txid,
                "the last transaction id the replica holds",
            ),
        ):
            gauge = GaugeMetricFamily(f"migrate_bot_state_replica_{name}", what.capitalize() + ".")
            gauge.add_metric([], float("nan") if value is None else float(value))
            yield gauge
        up = GaugeMetricFamily(
            "migrate_bot_state_replica_up",
            "1 while the state is being replicated; 0 once it has been behind or silent for"
            " more than a minute (the ops channel is told).",
        )
        up.add_metric([], 0.0 if status.stopped else 1.0)
        yield up
        restarts = CounterMetricFamily(
            "migrate_bot_state_replicator_restarts",
            "Times the replicator (Litestream) died and was started again.",
        )
        restarts.add_metric([], float(status.restarts))
        yield restarts
