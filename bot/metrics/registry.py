"""One bot's metrics in one registry: the audit log's, the outbox's, Slack's errors and the
process's own (CPU, memory, open files)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from audit.store import Clock, EventStore, utc_now
from bot.metrics.audit_metrics import AuditMetrics
from bot.metrics.replication_metrics import ReplicationMetrics
from bot.metrics.slack_errors import SLACK_API_ERRORS
from commands.requests import RequestService
from commands.state.outbox import Outbox, State
from commands.state.replicator import Replicator


class OutboxMetrics(Collector):
    """Notifications not yet delivered (pending, being sent) and given up on (dead)."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "migrate_bot_outbox_depth",
            "Slack notifications in the outbox, by state: pending and sending are still to"
            " be delivered; dead ones never will be (see the outbox's last_error).",
            labels=["state"],
        )
        for state in (State.PENDING, State.SENDING, State.DEAD):
            depth.add_metric([state.value], self._outbox.count(state))
        yield depth


def bot_registry(
    *,
    store: EventStore,
    requests: RequestService,
    outbox: Outbox,
    clock: Clock = utc_now,
    replicator: Replicator | None = None,
) -> CollectorRegistry:
    """A registry for ``GET /metrics`` or ``--metrics-port``, read at each scrape."""
    registry = CollectorRegistry()
    registry.register(AuditMetrics(store, requests, clock))
    registry.register(OutboxMetrics(outbox))
    if replicator is not None:
        registry.register(ReplicationMetrics(replicator.status))
    registry.register(SLACK_API_ERRORS)
    ProcessCollector(registry=registry)
    return registry
