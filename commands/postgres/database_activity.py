"""What ``pg_stat_database`` counts for one database: transactions committed and rolled
back, queries cancelled by recovery conflicts, deadlocks.

A statement that fails never reaches ``pg_stat_statements``, but its transaction's
rollback is counted here: an application whose queries fail after a migration shows
as rollbacks, even in autocommit. Like every statistics view, the counters only go up
(until ``pg_stat_reset``), so a period's figures are the difference of two samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

_ACTIVITY = """
SELECT xact_commit, xact_rollback, conflicts, deadlocks
FROM pg_stat_database WHERE datname = current_database()
"""


@dataclass(frozen=True)
class DatabaseActivity:
    """The database's counters at one moment, or a period's differences."""

    commits: int = 0
    rollbacks: int = 0
    conflicts: int = 0  # queries cancelled by recovery conflicts (on a standby)
    deadlocks: int = 0

    def minus(self, earlier: DatabaseActivity) -> DatabaseActivity | None:
        """This sample less ``earlier``; None when a counter went down (a reset between)."""
        found = DatabaseActivity(
            self.commits - earlier.commits,
            self.rollbacks - earlier.rollbacks,
            self.conflicts - earlier.conflicts,
            self.deadlocks - earlier.deadlocks,
        )
        return None if min(found.to_json()) < 0 else found

    def to_json(self) -> list[int]:
        return [self.commits, self.rollbacks, self.conflicts, self.deadlocks]

    @classmethod
    def from_json(cls, data: Sequence[int] | None) -> DatabaseActivity | None:
        return None if data is None else cls(*(int(value) for value in data))


def database_activity(conn: psycopg.Connection) -> DatabaseActivity:
    """The current database's counters (readable by any role)."""
    row = conn.execute(_ACTIVITY).fetchone()
    return DatabaseActivity(*(int(value or 0) for value in row)) if row else DatabaseActivity()
