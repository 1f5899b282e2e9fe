"""The events table in SQL both back-ends speak: its columns, the ``SELECT`` for a
``Rows.select``'s filters, and an event to and from a row."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from audit.chain import Event, canonical_json

EVENTS = "events"
COLUMNS = ("seq", "ts", "request_id", "target", "actor", "kind", "data", "prev_hash", "hash")


def where_clause(
    mark: str,
    *,
    request_id: str | None = None,
    request_ids: Sequence[str] | None = None,
    request_tails: Sequence[tuple[str, int]] | None = None,
    target: str | None = None,
    kinds: Sequence[str] | None = None,
    after_seq: int | None = None,
    newest_first: bool = False,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """``SELECT`` of the events for ``Rows.select``'s filters, with ``mark`` as the
    driver's placeholder (``?`` for sqlite3, ``%s`` for psycopg)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("request_id", request_id), ("target", target)):
        if value is not None:
            clauses.append(f"{column} = {mark}")
            params.append(value)
    if request_ids is not None:
        clauses.append(f"request_id IN ({', '.join([mark] * len(request_ids)) or 'NULL'})")
        params.extend(request_ids)
    if request_tails is not None:  # each request's events after a seq of its own
        term = f"(request_id = {mark} AND seq > {mark})"
        clauses.append(f"({' OR '.join([term] * len(request_tails)) or '1 = 0'})")
        params.extend(value for tail in request_tails for value in tail)
    if kinds:
        clauses.append(f"kind IN ({', '.join([mark] * len(kinds))})")
        params.extend(kinds)
    if after_seq is not None:
        clauses.append(f"seq > {mark}")
        params.append(after_seq)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    order = "DESC" if newest_first else "ASC"
    tail = f"LIMIT {int(limit)}" if limit is not None else ""
    return f"SELECT {', '.join(COLUMNS)} FROM {EVENTS} {where} ORDER BY seq {order} {tail}", params


def event_of(row: Sequence[Any]) -> Event:
    """An ``Event`` from a row of ``COLUMNS``, in order."""
    seq, ts, request_id, target, actor, kind, data, prev_hash, digest = row
    return Event(
        seq=int(seq),
        ts=ts,
        request_id=request_id,
        target=target,
        actor=actor,
        kind=kind,
        data=json.loads(data),
        prev_hash=prev_hash,
        hash=digest,
        data_json=data,
    )


def row_of(event: Event) -> tuple[Any, ...]:
    """The values of ``COLUMNS`` for ``event`` (its data as the exact text hashed)."""
    data = event.data_json if event.data_json is not None else canonical_json(event.data)
    return (
        event.seq,
        event.ts,
        event.request_id,
        event.target,
        event.actor,
        event.kind,
        data,
        event.prev_hash,
        event.hash,
    )
