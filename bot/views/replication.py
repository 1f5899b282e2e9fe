"""What the ops channel is told when the state's replication stops and comes back."""

from __future__ import annotations

from bot.views.blocks import Block
from commands.state.replica_status import ReplicaStatus


def _position(status: ReplicaStatus) -> str:
    if status.replicated_txid is None:
        return "the replica's position is not known"
    return f"the replica holds transaction {status.replicated_txid} of {status.txid}"


def replication_stopped(status: ReplicaStatus) -> tuple[str, list[Block]]:
    """Said once per episode: what stops, why (if known) and what to do."""
    why = f" ({status.error})" if status.error else ""
    since = (
        f" Last complete copy: {status.last_replicated_at:%Y-%m-%d %H:%M:%S} UTC."
        if status.last_replicated_at
        else ""
    )
    text = (
        f":warning: The bot's state is not being replicated to {status.replica}"
        f" for more than a minute{why}; {_position(status)}.{since} Every event recorded"
        " from now on exists only on this machine's disk until it resumes:"
        ' see docs/operations.md, "The state\'s replica".'
    )
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def replication_resumed(status: ReplicaStatus) -> tuple[str, list[Block]]:
    text = (
        f":white_check_mark: The bot's state is replicated to {status.replica} again;"
        f" {_position(status)}."
    )
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
