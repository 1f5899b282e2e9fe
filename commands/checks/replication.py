"""The ``replication`` check: is the configured replica keeping up? (In bytes and in
seconds: ``commands.postgres.replica_lag``.) A URL that points at a server not in
recovery is said to be what it is: not a replica, so no lag can be measured.
"""

from __future__ import annotations

from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Verdict
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.replica_lag import replica_lag
from commands.targets import url_from_environment
from commands.units import format_bytes, format_duration


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
        lag = replica_lag(context.conn, replica)
    if not lag.in_recovery:
        return CheckResult(
            "replication",
            Verdict.WARN,
            f"{url.display()} is not a replica (not in recovery): replication lag not measured",
        )
    lag_bytes, delay = lag.lag_bytes, lag.delay_s
    target = context.handle.config
    max_bytes = context.settings.replication_lag_bytes
    data = {"lag_bytes": lag_bytes, "replay_delay_s": delay, "replay_lsn": lag.replay_lsn}
    summary = (
        f"replica {'behind by ' + format_bytes(lag_bytes) if lag_bytes else 'caught up'}"
        f", replay delay {format_duration(delay or 0)}"
        f" (limits {format_bytes(max_bytes)}, {format_duration(target.max_replication_lag)})"
    )
    too_far = (lag_bytes or 0) > max_bytes or (delay or 0) > target.max_replication_lag
    return CheckResult("replication", Verdict.FAIL if too_far else Verdict.PASS, summary, (), data)
