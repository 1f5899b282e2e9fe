"""``python -m tests.support.backfill_process STATE RUN_ID``: one backfill's engine in a
process of its own, as the bot runs it, so a test can SIGKILL it mid-walk.

The database's URL is in ``$BACKFILL_DATABASE_URL`` (the replica's, if any, in
``$BACKFILL_REPLICA_URL``), never on the command line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from audit.sqlite_store import SqliteEventStore
from commands.backfill.engine import Engine
from commands.backfill.ledger import BackfillLedger
from commands.postgres.database_url import DatabaseUrl


def main() -> None:
    state, run_id = sys.argv[1:3]
    replica = os.environ.get("BACKFILL_REPLICA_URL")
    engine = Engine(
        BackfillLedger(SqliteEventStore(Path(state))),
        DatabaseUrl.parse(os.environ["BACKFILL_DATABASE_URL"]),
        replica=DatabaseUrl.parse(replica) if replica else None,
    )
    engine.run(run_id)


if __name__ == "__main__":
    main()
