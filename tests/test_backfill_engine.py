"""The backfill engine on a real PostgreSQL: batches, checkpoints, pause, resume and stop,
sessions waiting on a batch's rows, and failures that are redone smaller."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from commands.backfill.engine import Engine
from commands.backfill.ledger import BackfillLedger, BackfillStateError
from commands.backfill.model import BackfillRun, BackfillState
from commands.backfill.preflight import BackfillCheckError, check_backfill
from commands.postgres.connections import connect
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
from tests.support.polling import wait_for

ROWS = 20_000


def test_preflight_counts_the_rows_to_do_and_times_a_batch(fresh_db: DatabaseUrl) -> None:
    make_items(fresh_db, ROWS)
    with connect(fresh_db) as conn:
        conn.execute("UPDATE items SET new = old WHERE id <= 500")
        estimate = check_backfill(conn, spec(batch_size=2000))
    assert (estimate.table_rows, estimate.rows_to_do) == (ROWS, ROWS - 500)
    assert estimate.probe_rows == 2000
    assert estimate.seconds is not None and estimate.seconds > 0
    assert items_state(fresh_db)[1] == 500  # the probe's batch was rolled back
    # the WAL its probe wrote, for the whole walk: a heap tuple's worth a row or more
    assert estimate.wal_bytes is not None
    assert 50 * (ROWS - 500) < estimate.wal_bytes < 5000 * ROWS, estimate.wal_bytes
    with connect(fresh_db) as conn:
        row = conn.execute("SELECT pg_size_bytes(current_setting('min_wal_size'))").fetchone()
    assert row is not None and estimate.min_wal_size == row[0]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"table": "nope"}, "there is no table nope"),
        ({"key": "nope"}, "items has no column nope"),
        ({"key": "old"}, "no btree index of items starts with old"),
        ({"set": "new = missing"}, 'its UPDATE does not plan on items: column "missing"'),
    ],
)
def test_preflight_refuses_what_cannot_run(
    fresh_db: DatabaseUrl, changes: dict, message: str
) -> None:
    make_items(fresh_db, 10)
    with connect(fresh_db) as conn, pytest.raises(BackfillCheckError, match=message):
        check_backfill(conn, spec(**changes))


def test_a_backfill_walks_every_row_once_in_batches_sized_to_the_target_time(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    make_items(fresh_db, ROWS)
    store = state_store(tmp_path)
    run = approved_run(store, fresh_db, spec(batch_size=100, batch_time=0.05))
    seen: list[str] = []
    engine = Engine(BackfillLedger(store), fresh_db, notify=lambda r: seen.append(r.state))
    done = engine.run(run.id)
    assert done.state is BackfillState.DONE
    assert done.progress.rows == ROWS and done.progress.checkpoint == str(ROWS)
    assert items_state(fresh_db) == (ROWS, ROWS, 0, 0)
    batches = [e for e in store.events(request_id=run.id) if e.kind == EventKind.BACKFILL_BATCH]
    assert len(batches) == done.progress.batches > 2
    sizes = [e.data["size"] for e in batches]
    assert sizes[0] == 100 and all(a // 2 <= b <= a * 2 for a, b in itertools.pairwise(sizes))
    assert sum(e.data["walked"] for e in batches) == ROWS
    finished = store.events(request_id=run.id, kinds=[EventKind.BACKFILL_FINISHED])[0]
    assert finished.data["remaining"] == 0 and finished.data["outcome"] == "done"
    assert seen[0] is BackfillState.RUNNING and seen[-1] is BackfillState.DONE


HINTS = """
SELECT count(*) FILTER (WHERE t_xmin::text = %(xid)s),
       count(*) FILTER (WHERE t_xmin::text = %(xid)s AND t_infomask & 256 = 0),
       count(*) FILTER (WHERE t_xmax::text = %(xid)s AND t_infomask & (128 | 1024) = 0)
  FROM generate_series(0, pg_relation_size('items') / 8192 - 1) AS page,
       heap_page_items(get_raw_page('items', page::int))
 WHERE lp_flags = 1
"""
"""(row versions the batch ``xid`` made, those of them without their committed hint
(HEAP_XMIN_COMMITTED), versions it replaced without theirs (HEAP_XMAX_COMMITTED; not
counting the lock its trigger's row leaves on its new versions, HEAP_XMAX_LOCK_ONLY, which
no reader hints))."""


def test_a_batch_is_read_back_after_its_commit_hinting_its_rows_and_counting_what_is_left(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    """Read only by the engine since its commit, the first batch's row versions carry their
    commit hint bits (a later first reader after a checkpoint would write each page whole to
    the WAL to set them); its rows the predicate still selects are its ``left``. The
    predicate's ``%`` reaches PostgreSQL as one in every statement, with parameters or not."""
    make_items(fresh_db, 2000)
    store = state_store(tmp_path)
    ledger = BackfillLedger(store)
    run = approved_run(store, fresh_db, spec(batch_size=500, where="new IS NULL OR id % 7 = 0"))

    def pause_after_the_first_batch(seen: BackfillRun) -> None:
        if seen.state is BackfillState.RUNNING and seen.progress.batches == 1:
            ledger.pause(seen.id, by="U0BOB")

    paused = Engine(ledger, fresh_db, notify=pause_after_the_first_batch).run(run.id)
    assert paused.state is BackfillState.PAUSED and paused.progress.checkpoint == "500"
    batch = store.events(request_id=run.id, kinds=[EventKind.BACKFILL_BATCH])[0]
    assert batch.data["left"] == 500 // 7  # SET new = old leaves id % 7 = 0 selected
    with connect(fresh_db) as conn:
        conn.execute("CREATE EXTENSION pageinspect")
        xid = conn.execute("SELECT xmin::text FROM items WHERE id = 1").fetchone()
        assert xid is not None
        made, unhinted, replaced_unhinted = conn.execute(HINTS, {"xid": xid[0]}).fetchone()
    assert made == 500 and unhinted == 0 and replaced_unhinted == 0
    ledger.resume(run.id, by="U0BOB")
    assert Engine(ledger, fresh_db).run(run.id).state is BackfillState.DONE
    finished = store.events(request_id=run.id, kinds=[EventKind.BACKFILL_FINISHED])[0]
    assert finished.data["remaining"] == 2000 // 7  # the '%' reached PostgreSQL as one


def test_pause_resume_and_stop_are_a_persons_events_the_engine_obeys(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    make_items(fresh_db, ROWS)
    store = state_store(tmp_path)
    ledger = BackfillLedger(store)
    run = approved_run(store, fresh_db, spec(batch_size=200, max_rows_per_second=4000))
    engine = Engine(ledger, fresh_db)
    walking = EngineThread(engine, run.id)
    wait_for_run(ledger, run.id, lambda r: r.progress.batches >= 2, "two batches")
    ledger.pause(run.id, by="U0BOB")
    paused = walking.join()
    assert paused.state is BackfillState.PAUSED
    with pytest.raises(BackfillStateError, match="cannot be paused: it is paused"):
        ledger.pause(run.id, by="U0BOB")
    checkpoint = ledger.load(run.id).progress.checkpoint
    assert checkpoint is not None and 0 < int(checkpoint) < ROWS
    assert items_state(fresh_db)[1] == int(checkpoint)  # exactly the rows up to it

    ledger.resume(run.id, by="U0BOB")
    walking = EngineThread(engine, run.id)
    wait_for_run(ledger, run.id, lambda r: int(r.progress.checkpoint) > int(checkpoint), "more")
    ledger.stop(run.id, by="U0BOB")
    stopped = walking.join()
    assert stopped.state is BackfillState.STOPPED and stopped.ended_by == "U0BOB"
    with pytest.raises(BackfillStateError, match="cannot be resumed: it is stopped"):
        ledger.resume(run.id, by="U0BOB")
    rows, right, twice, _ = items_state(fresh_db)
    assert 0 < right < rows and twice == 0


def test_sessions_waiting_on_a_batch_shrink_the_next_and_a_long_wait_cancels_it(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    """Row 150's update sleeps (once) inside the first batch, holding rows 1 to 149; the
    application's update of row 100 waits on them, past max_lock_wait: the batch is
    cancelled, the application goes on, and the batch is redone smaller."""
    make_items(fresh_db, 2000)
    store = state_store(tmp_path)
    ledger = BackfillLedger(store)
    run = approved_run(store, fresh_db, spec(batch_size=400, max_lock_wait=0.5, max_batch_time=60))
    slow_row_150_once(fresh_db, 30)  # after the pre-flight, whose probe batch passes row 150
    walking = EngineThread(Engine(ledger, fresh_db), run.id)

    def engine_sleeping() -> bool:
        with connect(fresh_db) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
            ).fetchone()
        return bool(row and row[0])

    wait_for(engine_sleeping, what="the first batch inside row 150's trigger")
    application = threading.Thread(target=_update_row_100, args=(fresh_db,))
    application.start()
    application.join(60)
    done = walking.join()
    assert done.state is BackfillState.DONE
    retried = store.events(request_id=run.id, kinds=[EventKind.BACKFILL_RETRIED])
    assert retried[0].data["size"] == 400 and retried[0].data["next_size"] == 200
    assert "canceling statement due to user request" in retried[0].data["error"]
    assert items_state(fresh_db) == (2000, 2000, 1, 0)  # row 100: the application's update too


def test_a_batch_past_max_batch_time_is_cancelled_and_redone_smaller(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    make_items(fresh_db, 1000)
    store = state_store(tmp_path)
    run = approved_run(store, fresh_db, spec(batch_size=400, max_batch_time=0.3))
    slow_row_150_once(fresh_db, 5)
    done = Engine(BackfillLedger(store), fresh_db).run(run.id)
    assert done.state is BackfillState.DONE and done.progress.longest_batch_s < 5
    retried = store.events(request_id=run.id, kinds=[EventKind.BACKFILL_RETRIED])
    assert "canceling statement due to statement timeout" in retried[0].data["error"]
    assert items_state(fresh_db) == (1000, 1000, 0, 0)


def slow_row_150_once(database: DatabaseUrl, seconds: float) -> None:
    """The first update of row 150 from now on sleeps ``seconds`` inside its batch."""
    with connect(database) as conn:
        conn.execute("CREATE SEQUENCE sleeps")  # nextval survives the batch's rollback
        conn.execute(
            "CREATE FUNCTION slow_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.id = 150 AND nextval('sleeps') = 1 THEN"
            f" PERFORM pg_sleep({seconds}); END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER items_slow BEFORE UPDATE ON items FOR EACH ROW"
            " EXECUTE FUNCTION slow_once()"
        )


def _update_row_100(database: DatabaseUrl) -> None:
    with connect(database) as conn:
        conn.execute("UPDATE items SET old = old WHERE id = 100")


def test_a_batch_that_keeps_failing_fails_the_run_which_resume_can_try_again(
    fresh_db: DatabaseUrl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("commands.backfill.engine.MAX_FAILURES", 2)
    make_items(fresh_db, 1000)
    store = state_store(tmp_path)
    ledger = BackfillLedger(store)
    run = approved_run(store, fresh_db, spec(batch_size=100, lock_timeout=0.1))
    with connect(fresh_db, autocommit=False) as holder:
        holder.execute("SELECT FROM items WHERE id = 1 FOR UPDATE")  # an application's lock
        failed = Engine(ledger, fresh_db).run(run.id)
        holder.rollback()
    assert failed.state is BackfillState.FAILED
    assert failed.error is not None and "2 batches in a row failed" in failed.error
    assert "lock timeout" in failed.error
    ledger.resume(run.id, by="U0BOB")
    assert Engine(ledger, fresh_db).run(run.id).state is BackfillState.DONE
    assert items_state(fresh_db) == (1000, 1000, 0, 0)
