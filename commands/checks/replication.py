"""The ``replication`` check: is the configured replica keeping up?

Two measures, as the runbook's "confirm replication is healthy" means both:
bytes of WAL the replica has still to replay (the primary's current LSN
minus the replica's replay LSN) and the replay delay (``now() -
pg_last_xact_replay_timestamp()``). On an idle primary that timestamp ages
although nothing is pending, so a replica that has replayed all it received
counts as no delay. A URL that points at a server not in recovery is said
to be what it is: not a replica, so no lag can be measured.
"""

from __future__ import annotations

from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Verdict
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.targets import url_from_environment
from commands.units import format_bytes, format_duration

_REPLICA = """
SELECT pg_is_in_recovery(),
       pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
            THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
       END
"""


def replica_url(context: PreflightContext) -> DatabaseUrl | None:
    """The replica's URL from the variable ``replica_url_env`` names; raises ``ConfigError``."""
    target = context.handle.config
    if target.replica_url_env is None:
        return None
    key = f"targets.{target.name}.replica_url_env"
    return url_from_environment(target.replica_url_env, key, context.environ)


def check_replication(context: PreflightContext) -> CheckResult:
    url = replica_url(context)
    if url is None:
        return CheckResult("replication", Verdict.SKIP, "no replica configured (replica_url_env)")
    with connect(url) as replica:
        row = replica.execute(_REPLICA).fetchone()
    assert row is not None
    in_recovery, replay_lsn, delay = row
    if not in_recovery:
        return CheckResult(
            "replication",
            Verdict.WARN,
            f"{url.display()} is not a replica (not in recovery): replication lag not measured",
        )
    lag_row = context.conn.execute(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint", (replay_lsn,)
    ).fetchone()
    lag_bytes = max(int(lag_row[0]), 0) if lag_row and lag_row[0] is not None else None
    target = context.handle.config
    max_bytes = context.settings.replication_lag_bytes
    data = {"lag_bytes": lag_bytes, "replay_delay_s": delay, "replay_lsn": replay_lsn}
    summary = (
        f"replica {'behind by ' + format_bytes(lag_bytes) if lag_bytes else 'caught up'}"
        f", replay delay {format_duration(delay or 0)}"
        f" (limits {format_bytes(max_bytes)}, {format_duration(target.max_replication_lag)})"
    )
    too_far = (lag_bytes or 0) > max_bytes or (delay or 0) > target.max_replication_lag
    return CheckResult("replication", Verdict.FAIL if too_far else Verdict.PASS, summary, (), data)
