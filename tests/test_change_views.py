"""The change card and the backfill message: what they say in each state, within Block
Kit's limits, built from changes and runs the real ledgers recorded."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from audit.sqlite_store import SqliteEventStore
from bot.cli.change_render import backfill_text
from bot.views.backfill import backfill_message
from bot.views.change_card import change_message
from bot.views.ids import ActionId
from bot.views.limits import problems
from commands.backfill.ledger import BackfillLedger
from commands.backfill.model import Estimate
from commands.backfill.wal_advice import wal_line
from commands.changes.card import change_card
from commands.changes.change_file import read_change
from commands.changes.ledger import ChangeLedger
from commands.state.vocabulary import EventKind
from tests.support.changes import DEMO_CHANGE

NOW = datetime(2031, 1, 1, tzinfo=UTC)


def _buttons(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_the_phase_card_says_where_the_change_stands_and_offers_the_next_step(
    tmp_path: Path,
) -> None:
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    ledger = ChangeLedger(store)
    change = ledger.start(target="demo", spec=read_change(DEMO_CHANGE), by="U0ALICE")
    text, blocks = change_message(change_card(store, change, NOW))
    assert text == "rename-youtube-id on demo (C-1): phase 1 of 6, add-column"
    assert problems(blocks) == [] and _buttons(blocks)[0] == ActionId.CHANGE_ASK
    change = ledger.phase_done(change.id, 0, by="migrate-bot", how="0e8f2a6b9d43 is applied")
    text, blocks = change_message(change_card(store, change, NOW))
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "phase 2 of 6, write-both" in text and _buttons(blocks)[0] == ActionId.CHANGE_CONFIRM
    assert "✅ *1* add-column" in shown and "▶️ *2* write-both" in shown
    assert "Is this version out? the application writes both" in shown
    change = ledger.confirm_deploy(change.id, 1, by="U0ALICE", via="slack")
    shown = json.dumps(change_message(change_card(store, change, NOW))[1], ensure_ascii=False)
    assert "confirmed by <@U0ALICE> through slack" in shown
    change = ledger.abandon(change.id, by="U0BOB", reason="the app was rolled back")
    text, blocks = change_message(change_card(store, change, NOW))
    assert text.endswith(": abandoned") and _buttons(blocks) == []
    assert "Abandoned* by <@U0BOB>" in json.dumps(blocks) and problems(blocks) == []


def test_a_gate_card_shows_its_evidence(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    ledger = ChangeLedger(store)
    change = ledger.start(target="demo", spec=read_change(DEMO_CHANGE), by="U0ALICE")
    for index in range(4):
        store.append(
            kind=EventKind.CHANGE_PHASE_DONE,
            actor="migrate-bot",
            request_id=change.id,
            target="demo",
            data={"phase": index, "how": "test"},
        )
    conditions = [
        {
            "what": "nothing reads or writes videos.youtube_id for 2 min",
            "held": False,
            "detail": "last used between 09:00:00 and 09:01:00 UTC; quiet for 2 min",
        },
        {"what": "backfill copy has nothing left to do", "held": True, "detail": "no row left"},
    ]
    change = ledger.record_gate(change.id, 4, held=False, checks=conditions, by="migrate-bot")
    text, blocks = change_message(change_card(store, change, NOW))
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "phase 5 of 6, old-column-unused" in text
    assert "❌ nothing reads or writes videos.youtube_id for 2 min: last used between" in shown
    assert "✅ backfill copy has nothing left to do: no row left" in shown
    assert _buttons(blocks)[0] == ActionId.CHANGE_CHECK and problems(blocks) == []


def test_a_backfill_message_follows_its_run(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    ledger = BackfillLedger(store)
    spec = read_change(DEMO_CHANGE).phases[2].backfill
    assert spec is not None
    run = ledger.ask(
        target="demo",
        spec=spec,
        estimate=Estimate(1000, 800, 12.0),
        requester="U0ALICE",
        change="C-1",
        phase=2,
    )
    text, blocks = backfill_message(run, NOW)
    assert text == "Backfill copy on demo (B-1): awaiting approval" and problems(blocks) == []
    assert _buttons(blocks) == [ActionId.BACKFILL_APPROVE, ActionId.BACKFILL_REJECT]
    assert "800 of 1,000 rows to do, about 12.0 s" in json.dumps(blocks)
    ledger.approve(run.id, approver="U0BOB")
    run = ledger.start(run.id, owner="test")
    batch = {"upto": "400", "walked": 400, "rows": 320, "seconds": 0.2, "size": 400}
    run = ledger.record(run, EventKind.BACKFILL_BATCH, batch)
    run = ledger.record(
        run,
        EventKind.BACKFILL_HELD,
        {
            "reason": "replica_lag",
            "detail": "the replica's replay is 12.0 s behind (max_replica_lag 5.0 s)",
        },
    )
    text, blocks = backfill_message(run, NOW)
    shown = json.dumps(blocks, ensure_ascii=False)
    assert text == "Backfill copy on demo (B-1): holding, 40%"
    assert "*Holding* for" in shown and "replay is 12.0 s behind" in shown
    assert "1,600 rows/s" in shown and "about 300 ms at this pace" in shown
    assert _buttons(blocks) == [ActionId.BACKFILL_PAUSE, ActionId.BACKFILL_STOP]
    run = ledger.interrupt(run.id, why="the bot stopped")
    text, blocks = backfill_message(run, NOW)
    assert "*Interrupted* at `400`" in json.dumps(blocks) and problems(blocks) == []
    assert _buttons(blocks) == [ActionId.BACKFILL_RESUME, ActionId.BACKFILL_STOP]


def test_a_backfill_says_its_wal_and_when_it_outgrows_min_wal_size(tmp_path: Path) -> None:
    mb = 1024 * 1024
    small = Estimate(1000, 800, 12.0, wal_bytes=50 * mb, min_wal_size=80 * mb)
    assert wal_line(small) == "about 50.0 MB of WAL"
    large = replace(small, wal_bytes=520 * mb)
    assert wal_line(large) == (
        "about 520 MB of WAL, more than min_wal_size (80.0 MB): unless the server has been"
        " writing as much lately, it creates about 28 new WAL segments during the backfill,"
        " each zero-filled while the application's commits wait; raising min_wal_size above"
        " 520 MB before it spares them"
    )
    assert wal_line(Estimate(1000, 800, 12.0)) is None  # recorded before, or not measurable
    spec = read_change(DEMO_CHANGE).phases[2].backfill
    assert spec is not None
    ledger = BackfillLedger(SqliteEventStore(tmp_path / "state.sqlite3"))
    run = ledger.ask(target="demo", spec=spec, estimate=large, requester="U0ALICE")
    _, blocks = backfill_message(ledger.load(run.id), NOW)  # the estimate read back from the log
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "800 of 1,000 rows to do, about 12.0 s; about 520 MB of WAL, more than" in shown
    assert problems(blocks) == []
    said = backfill_text(ledger.load(run.id))  # `migrate-bot backfill ask` says it too
    assert "\n  pre-flight: about 520 MB of WAL, more than min_wal_size (80.0 MB)" in said
