"""A backfill against a real streaming replica and a real crash.

Replay paused on the replica holds the backfill (and says why) until replay
resumes; a SIGKILLed engine's run is interrupted at its checkpoint, never
resumed on its own, and a Resume completes it with every row right and no
key walked twice but for one batch. The million-row cases run with --full.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from commands.backfill.engine import Engine
from commands.backfill.ledger import BackfillLedger
from commands.backfill.model import BackfillState
from commands.backfill.recovery import recover_backfills
from commands.config.targets_file import BUNDLED_MIGRATIONS, CONFIG_ENV
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import EventKind
from tests.support.backfills import (
    EngineThread,
    approved_run,
    items_state,
    make_items,
    spec,
    state_store,
    wait_for_run,
)
from tests.support.checks_support import url_text
from tests.support.polling import wait_for
from tests.support.replica import on_replica, replay_paused, wait_until_caught_up

SIZES = [20_000, pytest.param(1_000_000, marks=pytest.mark.slow)]


@pytest.mark.parametrize("rows", SIZES)
def test_replay_paused_on_the_replica_holds_the_backfill_until_replay_resumes(
    fresh_db: DatabaseUrl, replica: DatabaseUrl, tmp_path: Path, rows: int
) -> None:
    make_items(fresh_db, rows)
    standby = on_replica(replica, fresh_db)
    wait_until_caught_up(fresh_db, standby)
    store = state_store(tmp_path)
    ledger = BackfillLedger(store)
    # at most half the rows a second: the walk lasts two seconds at least, so it cannot end
    # before the replica's lag passes 300 ms however fast the machine is
    paced = spec(batch_size=500, max_replica_lag=0.3, max_rows_per_second=rows // 2)
    run = approved_run(store, fresh_db, paced)
    engine = Engine(ledger, fresh_db, replica=standby, hold_poll_s=0.1)
    with replay_paused(standby):
        walking = EngineThread(engine, run.id)
        held = wait_for_run(ledger, run.id, lambda r: r.hold is not None, "the backfill to hold")
        assert held.hold is not None and held.hold.reason == "replica_lag"
        assert "the replica's replay is" in held.hold.detail and "max_replica_lag 300 ms" in (
            held.hold.detail
        )
        time.sleep(1.0)  # an absence: no batch while replay stays paused
        still = ledger.load(run.id)
        assert still.progress.batches == held.progress.batches and still.hold is not None
    done = walking.join()
    assert done.state is BackfillState.DONE and done.hold is None
    released = store.events(request_id=run.id, kinds=[EventKind.BACKFILL_RELEASED])
    assert released and released[0].data["held_s"] >= 1.0
    assert items_state(fresh_db) == (rows, rows, 0, 0)


@pytest.mark.parametrize("rows", SIZES)
def test_a_sigkilled_backfill_is_interrupted_at_its_checkpoint_and_resume_completes_it(
    fresh_db: DatabaseUrl, tmp_path: Path, rows: int
) -> None:
    make_items(fresh_db, rows)
    store = state_store(tmp_path)
    ledger = BackfillLedger(store)
    cap = {"max_rows_per_second": 5000} if rows < 100_000 else {}
    run = approved_run(store, fresh_db, spec(batch_size=500, **cap))
    config = tmp_path / "migrate-bot.toml"
    config.write_text(
        f'[bot]\nstate_path = "{store.path}"\n[targets.app]\ndatabase_url_env = "APP_URL"\n'
        f'script_location = "{BUNDLED_MIGRATIONS.as_posix()}"\napprovers = ["U0BOB"]\n'
    )
    environ = {**os.environ, "APP_URL": url_text(fresh_db), CONFIG_ENV: str(config)}
    migrate_bot = Path(sys.executable).with_name("migrate-bot")
    bot = subprocess.Popen(  # the terminal's door: the same engine, in a process of its own
        [str(migrate_bot), "backfill", "run", run.id, "--yes"],
        env=environ,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_run(ledger, run.id, lambda r: r.progress.batches >= 5, "five batches")
    finally:
        bot.kill()
        bot.wait(30)

    def recovered() -> list:
        return recover_backfills(ledger, lambda target: fresh_db)

    interrupted = wait_for(recovered, what="the dead engine's lock to be let go")
    assert [r.id for r in interrupted] == [run.id]
    run = ledger.load(run.id)
    assert run.state is BackfillState.INTERRUPTED and run.progress.checkpoint is not None
    checkpoint = int(run.progress.checkpoint)
    assert recover_backfills(ledger, lambda target: fresh_db) == []  # never resumed on its own
    assert ledger.load(run.id).state is BackfillState.INTERRUPTED
    done_rows = items_state(fresh_db)[1]
    assert checkpoint <= done_rows <= checkpoint + run.progress.last_size

    ledger.resume(run.id, by="U0BOB")
    done = Engine(ledger, fresh_db).run(run.id)
    assert done.state is BackfillState.DONE
    assert items_state(fresh_db) == (rows, rows, 0, 0)
    batches = store.events(request_id=run.id, kinds=[EventKind.BACKFILL_BATCH])
    walked_again = sum(e.data["walked"] for e in batches) - rows
    assert 0 <= walked_again <= max(e.data["size"] for e in batches)
    assert batches[0].data["upto"] is not None
