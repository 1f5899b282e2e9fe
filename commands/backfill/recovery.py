"""After a crash: backfill runs whose engine died with the bot become ``interrupted``.

A run that is running (or approved and about to be) whose engine lock is free
has no process behind it. It is marked interrupted at its checkpoint and
never resumed on its own: a person clicks Resume, and the walk goes on from
the last batch the log holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from commands.backfill.engine_lock import engine_lock_free
from commands.backfill.ledger import BackfillLedger
from commands.backfill.model import BackfillRun, BackfillState
from commands.errors import MigrateBotError
from commands.postgres.database_url import DatabaseUrl

log = logging.getLogger(__name__)

DatabaseOf = Callable[[str], DatabaseUrl]
"""A target's database URL, by target name (raises ``MigrateBotError`` if it cannot)."""


def recover_backfills(ledger: BackfillLedger, database_of: DatabaseOf) -> list[BackfillRun]:
    """Mark every run whose engine is gone interrupted; the runs marked."""
    found = []
    for run in ledger.runs(open_only=True):
        if run.state not in (BackfillState.RUNNING, BackfillState.APPROVED):
            continue
        try:
            with engine_lock_free(database_of(run.target), run.id) as free:
                if not free:
                    continue
        except MigrateBotError as exc:
            log.warning("cannot check backfill %s after a restart: %s", run.id, exc)
            continue
        found.append(ledger.interrupt(run.id, why="the bot stopped while it ran"))
    return found
