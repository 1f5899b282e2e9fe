"""Where the state's replication stands, and how far behind it is: plain data and
arithmetic, for ``/health``, ``/metrics`` and the ops channel's words."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Position:
    """Litestream's transaction ids: the file's (``txid``) and the replica's."""

    txid: int
    replicated_txid: int

    @property
    def behind(self) -> bool:
        return self.replicated_txid < self.txid


@dataclass(frozen=True)
class ReplicaStatus:
    """What ``/health`` and ``/metrics`` say of the replication."""

    replica: str
    running: bool
    restarts: int
    txid: int | None  # the file's last transaction Litestream has taken in
    replicated_txid: int | None  # the last one the replica holds
    seconds_behind: float | None  # None: not known (the replicator does not answer)
    last_replicated_at: datetime | None  # when the replica last held everything
    stopped: bool  # behind, or silent, for longer than ``stopped_after``
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "ok": not self.stopped,
            "running": self.running,
            "restarts": self.restarts,
            "txid": self.txid,
            "replicated_txid": self.replicated_txid,
            "seconds_behind": (
                None if self.seconds_behind is None else round(self.seconds_behind, 3)
            ),
            "last_replicated_at": (
                self.last_replicated_at.isoformat() if self.last_replicated_at else None
            ),
            "error": self.error,
        }


Notice = Callable[[ReplicaStatus], None]


class Lag:
    """Seconds behind from successive positions: the age of the oldest transaction the
    replica does not hold yet (each stamped when first seen)."""

    def __init__(self) -> None:
        self._unreplicated: deque[tuple[int, float]] = deque()
        self._seen = 0

    def observe(self, position: Position, now: float) -> float:
        if position.txid > self._seen:
            self._unreplicated.append((position.txid, now))
            self._seen = position.txid
        while self._unreplicated and self._unreplicated[0][0] <= position.replicated_txid:
            self._unreplicated.popleft()
        return now - self._unreplicated[0][1] if self._unreplicated else 0.0
