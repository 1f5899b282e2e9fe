"""Whether a backfill must hold before its next batch: the replica's replay lag.

Read between batches from one connection to the replica (opened again when it
drops). A replica that cannot be read, or that is no longer in recovery (a
failover), holds the backfill too: the throttle exists to protect the
replica, and nothing says it is safe to go on.
"""

from __future__ import annotations

import logging
from types import TracebackType

import psycopg

from audit.redact import redact
from commands.config.backfill import BackfillSpec
from commands.errors import DatabaseUnavailableError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.replica_lag import replica_lag
from commands.units import format_duration

log = logging.getLogger(__name__)

REPLICA_LAG = "replica_lag"
REPLICA_UNREADABLE = "replica_unreadable"


class ReplicaWatch:
    """The replica's replay delay against ``max_replica_lag``; nothing without a replica."""

    def __init__(
        self, primary: psycopg.Connection, replica: DatabaseUrl | None, spec: BackfillSpec
    ) -> None:
        self.primary = primary
        self.url = replica
        self.limit = spec.max_replica_lag
        self._conn: psycopg.Connection | None = None

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
        delay = lag.delay_s or 0.0
        if delay > self.limit:
            return REPLICA_LAG, (
                f"the replica's replay is {format_duration(delay)} behind"
                f" (max_replica_lag {format_duration(self.limit)})"
            )
        return None
