"""Projections kept beside the audit log (``audit.projections``): the request index, the
backup index and the metrics' totals say what folding every event says, on both
back-ends, however the events got there: appended with them kept, by a process that
does not keep them, before they existed, or under a log rewritten since."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest

from audit.chain import Event
from audit.projections import Projection
from audit.sqlite_store import SqliteEventStore
from audit.store import EventStore
from commands.requests import RequestService, folds, index, ledger
from commands.requests.folds import load
from commands.requests.index import REQUEST_INDEX
from commands.requests.model import fold_request
from commands.state.audit_log import open_audit_log
from commands.state.schema import SEARCH_PATH
from commands.state.vocabulary import EventKind, RequestState
from tests.support.request_helpers import (
    APPROVER,
    fingerprint,
    make_service,
    new_request,
    ready_for_approval,
    write_config,
)
from tests.support.shared_state import SHARED_BOT_KEYS


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> RequestService:
    url = request.getfixturevalue("shared_state_url") if request.param == "postgres" else None
    return make_service(write_config(tmp_path, bot_keys=SHARED_BOT_KEYS if url else ""))


def indexed(store: EventStore) -> dict[str, str]:
    rows = store.query(REQUEST_INDEX, "SELECT request_id, state FROM request_index")
    return dict(rows)  # type: ignore[arg-type]


def folded(store: EventStore) -> dict[str, str]:
    """Every request's state as its events fold, the slow way."""
    ids = {e.request_id for e in store.events(kinds=[EventKind.REQUEST_CREATED])}
    return {rid: load(store, rid).state.value for rid in ids if rid is not None}


def a_history(service: RequestService) -> None:
    """Requests in several states: running, approved, cancelled, awaiting approval."""
    first = ready_for_approval(service)
    service.approve(first.id, approver=APPROVER)
    service.start_run(first.id, actor="migrate-bot", fingerprint_now=fingerprint())
    cancelled = new_request(service)
    service.cancel(cancelled.id, actor=cancelled.requester)
    ready_for_approval(service)


def test_the_index_says_what_the_fold_says_and_finds_requests_by_state(
    service: RequestService,
) -> None:
    a_history(service)
    assert indexed(service.store) == folded(service.store)
    assert [r.state for r in service.requests(states=[RequestState.RUNNING])] == [
        RequestState.RUNNING
    ]
    assert [r.id for r in service.requests(limit=2)] == ["M-3", "M-2"]
    retried = new_request(service, dedupe_key="trigger-1")  # a Slack retry finds it again
    assert new_request(service, dedupe_key="trigger-1").id == retried.id == "M-4"


def test_events_appended_without_the_index_are_taken_at_the_next_read(
    service: RequestService, tmp_path: Path
) -> None:
    """Another process (here a second store that keeps nothing) closes a request."""
    a_history(service)
    other = open_audit_log(service.config.bot.state)
    assert not other.keeps(REQUEST_INDEX)
    other.append(
        kind=EventKind.REQUEST_CANCELLED,
        actor="U0ALICE",
        request_id="M-3",
        target="prod",
        data={"reason": "from elsewhere"},
    )
    assert indexed(service.store)["M-3"] == RequestState.CANCELLED.value
    assert indexed(service.store) == folded(service.store)


def test_a_log_older_than_the_index_is_folded_once_when_it_is_first_kept(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    service = make_service(config)
    a_history(service)
    with sqlite3.connect(config.bot.state_path) as conn:  # as a log from before the index
        conn.execute("DROP TABLE request_index")
        conn.execute("DELETE FROM projections")
    fresh = SqliteEventStore(config.bot.state_path)
    assert indexed(fresh) == folded(fresh) and len(indexed(fresh)) == 3


def test_a_checkpoint_the_log_no_longer_holds_rebuilds_the_projection(
    service: RequestService, request: pytest.FixtureRequest
) -> None:
    """A checkpoint naming an event that is not there (the log was rewritten or replaced
    under it) is not trusted: the projection is cleared and folded again."""
    a_history(service)
    shared = service.config.bot.state.shared
    url = request.getfixturevalue("shared_state_url") if shared else None
    forged = "UPDATE projections SET hash = ? WHERE name = 'request_index'"
    wrong = "UPDATE request_index SET state = 'succeeded'"
    if url is None:
        with sqlite3.connect(service.config.bot.state_path) as conn:
            conn.execute(forged, ("0" * 64,))
            conn.execute(wrong)
    else:
        with psycopg.connect(url, options=SEARCH_PATH, autocommit=True) as conn:
            conn.execute(forged.replace("?", "%s"), ("0" * 64,))
            conn.execute(wrong)
    other = open_audit_log(service.config.bot.state)  # a process starting afresh
    assert indexed(other) == folded(other)


class Recorded:
    """The store, counting its reads of events and keeping each statement read from a
    projection (to ask SQLite its plan)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.statements: list[tuple[str, list[object]]] = []
        self.event_reads = 0

    def query(self, projection: Projection, sql: str, params: Sequence[object] = ()) -> list:
        self.statements.append((sql, list(params)))
        return self.store.query(projection, sql, params)

    def events(self, **filters: object) -> list[Event]:
        self.event_reads += 1
        return self.store.events(**filters)


def test_the_newest_requests_are_folded_from_one_read_of_their_events_however_many(
    service: RequestService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """App Home's newest hundred were a read each, a round trip each to a shared state."""
    a_history(service)
    service.approve(ready_for_approval(service).id, approver=APPROVER)
    for _ in range(4):
        new_request(service)
    store = service.store
    each = {f"M-{n}": fold_request(store.events(request_id=f"M-{n}")) for n in range(1, 9)}
    newest_first = [each[f"M-{n}"] for n in range(8, 0, -1)]
    for folds_kept in (True, False):  # a bot serving, and one that has just started
        if not folds_kept:
            monkeypatch.setattr(folds, "_folds", {})
        recorded = Recorded(store)
        assert list(ledger.newest_requests(recorded, target=None, states=None)) == newest_first
        assert recorded.event_reads == 1
    recorded = Recorded(store)
    waiting = [RequestState.AWAITING_APPROVAL]
    found = list(ledger.newest_requests(recorded, target=None, states=waiting, page=2))
    assert [r.id for r in found] == ["M-3"] and recorded.event_reads == 1


def test_every_read_of_the_request_index_searches_an_index(tmp_path: Path) -> None:
    """None of them visits every request (the newest 100 of App Home read a full table
    sorted, 37 ms at 100,000 requests, before the index on created_seq)."""
    config = write_config(tmp_path)
    service = make_service(config)
    a_history(service)
    recorded = Recorded(service.store)
    list(index.newest_ids(recorded, target=None, states=None))
    list(index.newest_ids(recorded, target="prod", states=None))
    list(index.newest_ids(recorded, target=None, states=[RequestState.AWAITING_APPROVAL]))
    index.ids_in(recorded, [RequestState.RUNNING], "prod")
    index.watching_ids(recorded)
    index.id_with_key(recorded, "prod", "a-key")
    with sqlite3.connect(config.bot.state_path) as conn:
        for sql, params in recorded.statements:
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            assert any(step.startswith(("SEARCH", "SCAN request_index USING")) for step in plan)
            assert "SCAN request_index" not in plan, (sql, plan)
