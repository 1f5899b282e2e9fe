"""How far a streaming replica is behind its primary, read from both.

Two measures, as the runbook's "confirm replication is healthy" means both:
bytes of WAL the replica has still to replay (the primary's current LSN minus
the replica's replay LSN) and the replay delay (``now() -
pg_last_xact_replay_timestamp()``). On an idle primary that timestamp ages
although nothing is pending, so a replica that has replayed all it received
counts as no delay. While replay is paused (``pg_wal_replay_pause()``) what it
received waits, and the delay grows until replay resumes.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

_REPLICA = """
SELECT pg_is_in_recovery(),
       pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
            THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
       END
"""
_BEHIND = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint"


@dataclass(frozen=True)
class ReplicaLag:
    """One reading: whether the server is a replica at all, and how far behind it is."""

    in_recovery: bool
    replay_lsn: str | None
    lag_bytes: int | None
    delay_s: float | None


def replica_lag(primary: psycopg.Connection, replica: psycopg.Connection) -> ReplicaLag:
    """Read the replica's replay position and delay, then the bytes the primary is ahead."""
    row = replica.execute(_REPLICA).fetchone()
    assert row is not None
    in_recovery, replay_lsn, delay = row
    if not in_recovery:
        return ReplicaLag(False, None, None, None)
    behind = primary.execute(_BEHIND, (replay_lsn,)).fetchone()
    lag_bytes = max(int(behind[0]), 0) if behind and behind[0] is not None else None
    return ReplicaLag(True, replay_lsn, lag_bytes, float(delay) if delay is not None else None)


def lsn_value(lsn: str) -> int:
    """A WAL position (``16/B374D848``) as a number, to compare positions in Python."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)
