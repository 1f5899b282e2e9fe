"""The embedded bot's state replicated off the machine while it runs
(``[bot] state_replica``): the replicator started on the state file, and the ops
channel told, once each, when replication stops for more than a minute and when it
is back."""

from __future__ import annotations

import time

from bot.slack_api.notifier import Notifier
from bot.views.replication import replication_resumed, replication_stopped
from commands.config.targets_file import Config
from commands.state.replica_status import ReplicaStatus
from commands.state.replicator import Replicator
from commands.state.restore import refuse_fresh_state_over_replica


def check_state_replica(config: Config) -> None:
    """Before the state is opened: refuse to start a fresh file over a replica that
    holds a state (``ReplicaHoldsStateError``: restore it instead)."""
    replica = config.bot.state_replica
    if replica is not None:
        refuse_fresh_state_over_replica(config.bot.state_path, replica)


def start_replication(config: Config, notifier: Notifier) -> Replicator | None:
    """The replicator of ``config``'s state, started, or None without a replica."""
    replica = config.bot.state_replica
    if replica is None:
        return None
    channel = config.bot.ops_channel

    def tell(status: ReplicaStatus, *, stopped: bool) -> None:
        if channel is None:
            return
        text, blocks = (replication_stopped if stopped else replication_resumed)(status)
        word = "stopped" if stopped else "resumed"
        key = f"state-replica:{word}:{time.time_ns()}"  # once per episode, by the replicator
        notifier.post(channel, text, blocks, key=key)

    return Replicator(
        config.bot.state_path,
        replica,
        on_stopped=lambda status: tell(status, stopped=True),
        on_resumed=lambda status: tell(status, stopped=False),
    ).start()
