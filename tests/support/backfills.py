"""A table to backfill, a backfill spec for it, and an engine run the way the bot runs one.

``items`` has ``old`` filled and ``new`` empty; the backfill copies one into the
other. A trigger counts every update of each row (``updates``), whoever makes
it, so a test can prove no row was updated twice.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audit.sqlite_store import SqliteEventStore
from audit.store import EventStore
from commands.backfill.engine import Engine
from commands.backfill.ledger import BackfillLedger
from commands.backfill.model import BackfillRun, BackfillState
from commands.backfill.preflight import check_backfill
from commands.config.backfill import BackfillSpec
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.polling import wait_for

ITEMS = BackfillSpec(
    name="copy-old",
    table="items",
    key="id",
    set="new = old",
    where="new IS NULL AND old IS NOT NULL",
)

_CREATE = """
CREATE TABLE items (id bigint PRIMARY KEY, old text, new text, updates int NOT NULL DEFAULT 0);
CREATE FUNCTION count_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updates := OLD.updates + 1; RETURN NEW; END $$;
CREATE TRIGGER items_updates BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION count_updates();
"""


def make_items(database: DatabaseUrl, rows: int) -> None:
    """``items`` with ``rows`` rows, ``old`` = 'v<id>', ``new`` NULL."""
    with connect(database) as conn:
        conn.execute(_CREATE)
        conn.execute(
            "INSERT INTO items (id, old) SELECT g, 'v' || g FROM generate_series(1, %s) g", (rows,)
        )
        conn.execute("ANALYZE items")


def spec(**changes: Any) -> BackfillSpec:
    return dataclasses.replace(ITEMS, **changes)


def items_state(database: DatabaseUrl) -> tuple[int, int, int, int]:
    """(rows, rows done right, rows updated more than once, rows never updated)."""
    with connect(database) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE new = old),"
            " count(*) FILTER (WHERE updates > 1), count(*) FILTER (WHERE updates = 0) FROM items"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def approved_run(store: EventStore, database: DatabaseUrl, backfill: BackfillSpec) -> BackfillRun:
    """A run of ``backfill`` on target ``app``, pre-flighted, asked by Alice, approved by Bob."""
    ledger = BackfillLedger(store)
    with connect(database) as conn:
        estimate = check_backfill(conn, backfill)
    run = ledger.ask(target="app", spec=backfill, estimate=estimate, requester="U0ALICE")
    return ledger.approve(run.id, approver="U0BOB")


def state_store(tmp_path: Path) -> SqliteEventStore:
    return SqliteEventStore(tmp_path / "state.sqlite3")


class EngineThread:
    """An engine walking in a thread of its own, as the bot runs one; ``result`` at its end."""

    def __init__(self, engine: Engine, run_id: str) -> None:
        self.result: BackfillRun | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(engine, run_id), daemon=True)
        self._thread.start()

    def _run(self, engine: Engine, run_id: str) -> None:
        try:
            self.result = engine.run(run_id)
        except BaseException as exc:  # handed to the test, which fails on it
            self.result = exc

    def join(self, timeout: float = 120) -> BackfillRun:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the engine did not end in time"
        assert isinstance(self.result, BackfillRun), self.result
        return self.result


def wait_for_run(
    ledger: BackfillLedger, run_id: str, check: Callable[[BackfillRun], bool], what: str
) -> BackfillRun:
    def found() -> BackfillRun | None:
        run = ledger.load(run_id)
        return run if check(run) else None

    return wait_for(found, what=what)


def ended(run: BackfillRun) -> bool:
    return run.state not in (BackfillState.RUNNING, BackfillState.APPROVED)
