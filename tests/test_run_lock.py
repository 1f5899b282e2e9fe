"""The run lock: released at the end of the block, even when the server dropped its session."""

from __future__ import annotations

from commands.pipeline.run_lock import run_lock
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl


def test_a_lock_whose_session_the_server_dropped_ends_quietly_and_is_free(
    fresh_db: DatabaseUrl,
) -> None:
    with run_lock(fresh_db, label="M-1 upgrade") as held:
        pid = held.info.backend_pid
        with connect(fresh_db) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with run_lock(fresh_db, label="M-2 upgrade"):
        pass
