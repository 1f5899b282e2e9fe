"""Reads the request service makes, from a write transaction or the store itself.

Inside a ``Transaction`` what is read cannot change before the caller
appends: the check and the write are one ``BEGIN IMMEDIATE``. Plain reads
(listing, showing) go to the ``EventStore`` and take no write lock. Which
requests to fold comes from the request index (``index``), so none of these
reads grows with the history; each request returned is its events' fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, Protocol

from audit.chain import Event
from audit.projections import Projection
from commands.requests import index
from commands.requests.folds import load, load_many
from commands.requests.inputs import request_id_of
from commands.requests.model import Freeze, Request, fold_freeze
from commands.state.vocabulary import EventKind, RequestState

__all__ = ["created_with_key", "freeze_of", "load", "newest_requests", "next_request_id", "running"]


class EventSource(Protocol):
    """``EventStore`` or a ``Transaction``: events with filters, projections' rows."""

    def events(self, **filters: Any) -> Sequence[Event]: ...

    def query(
        self, projection: Projection, sql: str, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]: ...


def next_request_id(log: EventSource) -> str:
    """``M-<n+1>`` after the newest request: allocated in the transaction that creates it."""
    newest = log.events(kinds=[EventKind.REQUEST_CREATED], newest_first=True, limit=1)
    number = int((newest[0].request_id or "M-0").removeprefix("M-")) if newest else 0
    return request_id_of(number + 1)


def freeze_of(log: EventSource, target: str) -> Freeze | None:
    kinds = [EventKind.TARGET_FROZEN, EventKind.TARGET_UNFROZEN]
    return fold_freeze(log.events(target=target, kinds=kinds, newest_first=True, limit=1))


def running(log: EventSource, target: str | None = None) -> list[Request]:
    """Requests whose run started and has neither finished nor been marked interrupted."""
    ids = index.ids_in(log, [RequestState.RUNNING], target)
    found = (load(log, request_id) for request_id in ids)
    return [r for r in found if r.state is RequestState.RUNNING]


def created_with_key(log: EventSource, target: str, key: str) -> Request | None:
    """The request created earlier with the same de-duplication key, if any."""
    request_id = index.id_with_key(log, target, key)
    return load(log, request_id) if request_id is not None else None


def newest_requests(
    log: EventSource,
    *,
    target: str | None,
    states: Iterable[RequestState] | None,
    page: int = index.PAGE,
) -> Iterator[Request]:
    """Requests newest first, optionally only those on ``target`` or in ``states``, folded
    ``page`` at a time (one read of their events for each page: ``load_many``)."""
    wanted = set(states) if states else None
    ids = index.newest_ids(log, target=target, states=wanted)
    while batch := list(islice(ids, page)):
        for request in load_many(log, batch):
            if wanted is None or request.state in wanted:
                yield request
