"""Which requests exist and what state each is in, kept beside the audit log.

A projection (``audit.projections``): one row per request, its state folded
from its events in the very transaction that appends them (and whether a
watch after its run is open), so "which requests are running on prod", "the
newest twenty", "the request this Slack retry created", "the watches still
open" are indexed reads, whatever the history's length. The state is
still the fold's: readers take the ids from here and fold each request they
return (``folds.load``), so a row can narrow a search but never decide it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, Protocol

from audit.chain import Event
from audit.projections import Projection, Transaction
from commands.requests.errors import RequestNotFoundError
from commands.requests.folds import fold_whole, load
from commands.requests.model import FOLDED_KINDS
from commands.state.audit_reading import audit_log_errors
from commands.state.vocabulary import EventKind, RequestState

TABLE = "request_index"
PAGE = 200  # ids read at a time by a reader that may stop early
SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    request_id TEXT PRIMARY KEY,
    created_seq INTEGER NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    dedupe_key TEXT,
    watching INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS {TABLE}_created ON {TABLE} (created_seq);
CREATE INDEX IF NOT EXISTS {TABLE}_state ON {TABLE} (state, created_seq);
CREATE INDEX IF NOT EXISTS {TABLE}_target ON {TABLE} (target, created_seq);
CREATE INDEX IF NOT EXISTS {TABLE}_dedupe ON {TABLE} (target, dedupe_key);
CREATE INDEX IF NOT EXISTS {TABLE}_watching ON {TABLE} (watching);
"""
WATCH_OPENS: dict[str, int] = {EventKind.WATCH_STARTED: 1, EventKind.WATCH_FINISHED: 0}


class RequestIndex:
    """The ``request_index`` projection."""

    name = TABLE
    sqlite_schema = SQLITE_SCHEMA

    def apply(self, tx: Transaction, events: Sequence[Event]) -> None:
        """A row for each request created; the state of each request an event folds into,
        folded once per batch (from the batch itself when it holds the request's start)."""
        changed: dict[str, None] = {}
        born: dict[str, list[Event]] = {}  # requests created in this batch: all their events
        for event in events:
            request_id = event.request_id
            if request_id is None:
                continue
            if request_id in born:
                born[request_id].append(event)
            if event.kind == EventKind.REQUEST_CREATED:
                born[request_id] = [event]
                tx.execute(
                    f"INSERT INTO {TABLE} (request_id, created_seq, target, state, dedupe_key)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
                    (
                        request_id,
                        event.seq,
                        event.target or "",
                        RequestState.REQUESTED.value,
                        event.data.get("dedupe_key"),
                    ),
                )
            elif event.kind in FOLDED_KINDS:
                changed[request_id] = None
            elif event.kind in WATCH_OPENS:
                tx.execute(
                    f"UPDATE {TABLE} SET watching = ? WHERE request_id = ?",
                    (WATCH_OPENS[event.kind], request_id),
                )
        for request_id in changed:
            try:
                whole = born.get(request_id)
                state = (fold_whole(whole) if whole else load(tx, request_id)).state
            except RequestNotFoundError:
                continue  # events naming no request: nothing to index
            tx.execute(
                f"UPDATE {TABLE} SET state = ? WHERE request_id = ?", (state.value, request_id)
            )

    def clear(self, tx: Transaction) -> None:
        tx.execute(f"DELETE FROM {TABLE}")


REQUEST_INDEX: Projection = RequestIndex()


def _query(log: IndexSource, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """A read of the index; a log that cannot be brought up to date (tampered with, busy)
    raises as the user's error."""
    with audit_log_errors():
        return log.query(REQUEST_INDEX, sql, params)


class IndexSource(Protocol):
    """``EventStore`` or a ``Transaction``: reads of a projection, caught up first."""

    def query(
        self, projection: Projection, sql: str, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]: ...


def ids_in(log: IndexSource, states: Collection[RequestState], target: str | None) -> list[str]:
    """Requests whose indexed state is one of ``states``, oldest first."""
    where, params = _where(target, states)
    rows = _query(log, f"SELECT request_id FROM {TABLE} {where} ORDER BY created_seq", params)
    return [row[0] for row in rows]


def newest_ids(
    log: IndexSource, *, target: str | None, states: Collection[RequestState] | None
) -> Iterator[str]:
    """Request ids newest first, a page at a time (a reader that stops early reads little)."""
    before: int | None = None
    while True:
        where, params = _where(target, states, before)
        rows = _query(
            log,
            f"SELECT request_id, created_seq FROM {TABLE} {where}"
            f" ORDER BY created_seq DESC LIMIT {PAGE}",
            params,
        )
        yield from (row[0] for row in rows)
        if len(rows) < PAGE:
            return
        before = rows[-1][1]


def watching_ids(log: IndexSource) -> list[str]:
    """Requests whose watch started and has not finished."""
    rows = _query(log, f"SELECT request_id FROM {TABLE} WHERE watching = 1")
    return [row[0] for row in rows]


def id_with_key(log: IndexSource, target: str, key: str) -> str | None:
    """The newest request created on ``target`` with the de-duplication key ``key``."""
    rows = _query(
        log,
        f"SELECT request_id FROM {TABLE} WHERE target = ? AND dedupe_key = ?"
        " ORDER BY created_seq DESC LIMIT 1",
        (target, key),
    )
    return rows[0][0] if rows else None


def _where(
    target: str | None, states: Collection[RequestState] | None, before: int | None = None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if target is not None:
        clauses.append("target = ?")
        params.append(target)
    if states is not None:
        clauses.append(f"state IN ({', '.join('?' * len(states))})")
        params.extend(state.value for state in states)
    if before is not None:
        clauses.append("created_seq < ?")
        params.append(before)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params
