"""The replication check against a real streaming replica of the test server.

The replica is made with the wheel's own pg_basebackup (``-R``: it starts as
a standby streaming from the test server) and runs on a Unix socket of its
own. Pausing its replay and writing on the primary makes real lag, in bytes
and in seconds.
"""

from __future__ import annotations

from pathlib import Path

from commands.checks import Verdict, run_preflight
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.checks_support import handle_for, url_text
from tests.support.replica import wait_until_caught_up


def test_a_streaming_replica_is_measured_in_bytes_and_seconds(
    replica: DatabaseUrl, fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    environ = {"REPLICA_URL": url_text(replica)}
    extra = 'replica_url_env = "REPLICA_URL"\nmax_replication_lag = "1s"'
    handle = handle_for(
        fresh_db, tmp_path, extra=extra, checks='replication_lag_bytes = "1MB"', environ=environ
    )
    wait_until_caught_up(fresh_db, replica)
    healthy = run_preflight(handle, environ=environ).result("replication")
    assert healthy.verdict is Verdict.PASS, healthy.summary
    assert healthy.data["lag_bytes"] < 1024**2

    with connect(replica) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
    try:
        with connect(fresh_db) as conn:  # ~ a few MB of WAL the paused replica receives only
            conn.execute(
                "CREATE TABLE wal_maker AS SELECT g, md5(g::text) FROM generate_series(1, 60000) g"
            )
            conn.execute("SELECT pg_sleep(1.2)")
            conn.execute("INSERT INTO wal_maker VALUES (0, 'after the pause')")
        behind = run_preflight(handle, environ=environ).result("replication")
        assert behind.verdict is Verdict.FAIL
        assert behind.data["lag_bytes"] > 1024**2
        assert behind.data["replay_delay_s"] > 1
        assert behind.summary.startswith("replica behind by ")
    finally:
        with connect(replica) as standby:
            standby.execute("SELECT pg_wal_replay_resume()")
