"""Whether a backfill must hold before its next batch: the replica's replay lag.

Two readings, the larger counts. The replica's own replay delay (``now() -
pg_last_xact_replay_timestamp()``, as the ``replication`` check reads it);
and, exactly, how long ago the backfill committed the oldest batch the
replica has not replayed yet: the engine notes the WAL position after each
commit, and the replica's replay position says which it has passed. The
first moves in steps as each batch is replayed; the second is what a reader
of the replica misses of the backfill's own work.

Read between batches from one connection to the replica (opened again when
it drops). A replica that cannot be read, or that is no longer in recovery
(a failover), holds the backfill too: the throttle exists to protect the
replica, and nothing says it is safe to go on.
"""

from __future__ import annotations

import time
from collections import deque
from types import TracebackType

import psycopg

from audit.redact import redact
from commands.config.backfill import BackfillSpec
from commands.errors import DatabaseUnavailableError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.replica_lag import ReplicaLag, lsn_value, replica_lag
from commands.units import format_duration

REPLICA_LAG = "replica_lag"
REPLICA_UNREADABLE = "replica_unreadable"


class ReplicaWatch:
    """The replica's lag against ``max_replica_lag``; never holds without a replica."""

    def __init__(
        self, primary: psycopg.Connection, replica: DatabaseUrl | None, spec: BackfillSpec
    ) -> None:
        self.primary = primary
        self.url = replica
        self.limit = spec.max_replica_lag
        self._conn: psycopg.Connection | None = None
        self._commits: deque[tuple[int, float]] = deque()  # (WAL position, monotonic time)

    def __enter__(self) -> ReplicaWatch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            self._conn.close()

    def committed(self) -> None:
        """Note where the WAL stands after a batch's commit (nothing without a replica)."""
        if self.url is None:
            return
        row = self.primary.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert row is not None
        self._commits.append((lsn_value(row[0]), time.monotonic()))

    def hold_reason(self) -> tuple[str, str] | None:
        """(reason, detail) to hold for now, or None to go on."""
        if self.url is None:
            return None
        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.url, application_name="migrate-bot backfill lag")
            lag = replica_lag(self.primary, self._conn)
        except (DatabaseUnavailableError, psycopg.Error) as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            detail = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
            return REPLICA_UNREADABLE, f"the replica's lag cannot be read: {detail}"
        if not lag.in_recovery:
            return REPLICA_UNREADABLE, f"{self.url.display()} is not a replica (not in recovery)"
        delay = max(lag.delay_s or 0.0, self._unreplayed_for(lag))
        if delay > self.limit:
            return REPLICA_LAG, (
                f"the replica's replay is {format_duration(delay)} behind"
                f" (max_replica_lag {format_duration(self.limit)})"
            )
        return None

    def _unreplayed_for(self, lag: ReplicaLag) -> float:
        """Seconds since the oldest batch the replica has not replayed was committed."""
        replayed = lsn_value(lag.replay_lsn) if lag.replay_lsn else 0
        while self._commits and self._commits[0][0] <= replayed:
            self._commits.popleft()
        return time.monotonic() - self._commits[0][1] if self._commits else 0.0
