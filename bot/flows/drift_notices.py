"""The ops channel told of drift changes the sweep finds, once each.

Each change is keyed by the ``drift_checked`` event that recorded it, so
however often a sweep is retried or which process runs it, one change is
one message (a fleet's sweep: one message naming the members that changed).
"""

from __future__ import annotations

from bot.slack_api.notifier import Notifier
from bot.views.schema_evidence import drift_change_message, fleet_drift_message
from commands.config.targets_file import Config
from commands.schema.drift_log import DriftCheck


class OpsDriftNotices:
    """``DriftNotices`` for the Slack front: messages to ``[bot] ops_channel``."""

    def __init__(self, config: Config, notifier: Notifier) -> None:
        self.config = config
        self.notifier = notifier

    def drift_changed(self, target: str, changed: list[DriftCheck], summary: str | None) -> None:
        ops = self.config.bot.ops_channel
        if not ops or not changed:
            return
        if summary is not None:
            text, blocks = fleet_drift_message(target, summary, changed)
            self.notifier.post(ops, text, blocks, key=f"drift:{target}:{changed[0].event_seq}")
            return
        for check in changed:
            text, blocks = drift_change_message(check)
            self.notifier.post(ops, text, blocks, key=f"drift:{check.event_seq}")
