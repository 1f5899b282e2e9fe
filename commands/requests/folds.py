"""A request folded from its events, and the folds kept so the next costs one small read.

A run appends two events per revision, and folding all of a long run's events
again for each would cost quadratic time, so the latest folds are kept with
the hash of the last event folded in. The hash chain makes the check exact:
the same hash at the same seq is the same history, whichever store or
transaction it was read from.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from audit.chain import Event
from commands.requests.errors import RequestNotFoundError
from commands.requests.model import Request, apply_event, fold_request
from commands.state.vocabulary import EventKind


class EventSource(Protocol):
    """``EventStore`` or a ``Transaction``: anything that reads events with filters."""

    def events(self, **filters: Any) -> Sequence[Event]: ...


_FOLDS_KEPT = 512
_folds: dict[str, tuple[Request, str]] = {}
_folds_lock = threading.Lock()


def load(log: EventSource, request_id: str) -> Request:
    """The request folded from its events; raises ``RequestNotFoundError``."""
    with _folds_lock:
        known = _folds.get(request_id)
    if known is not None:
        events = log.events(request_id=request_id, after_seq=known[0].last_seq - 1)
        advanced = _advanced(known, events)
        if advanced is not None:
            return advanced
    return _whole(request_id, log.events(request_id=request_id))


def load_many(log: EventSource, request_ids: Sequence[str]) -> list[Request]:
    """The requests ``request_ids``, in that order, their events read in two queries for
    all of them (those whose fold is kept, each from its kept fold's last event on;
    the others whole), where ``load`` costs one each: a list of the newest hundred
    (App Home's) was a hundred round trips to a shared state. Raises
    ``RequestNotFoundError`` for an id no request has."""
    with _folds_lock:
        known = {rid: _folds[rid] for rid in request_ids if rid in _folds}
    fresh = [rid for rid in request_ids if rid not in known]
    events: dict[str | None, list[Event]] = {rid: [] for rid in request_ids}
    if known:
        tails = [(rid, request.last_seq - 1) for rid, (request, _) in known.items()]
        for event in log.events(request_tails=tails):
            events[event.request_id].append(event)
    if fresh:
        for event in log.events(request_ids=fresh):
            events[event.request_id].append(event)
    found: list[Request] = []
    for rid in request_ids:
        kept = known.get(rid)
        if kept is None:
            found.append(_whole(rid, events[rid]))
            continue
        found.append(_advanced(kept, events[rid]) or load(log, rid))
    return found


def _advanced(known: tuple[Request, str], events: Sequence[Event]) -> Request | None:
    """A kept fold brought up to date with ``events`` (its last event first, then what
    followed), or None when they do not continue it (another log's fold)."""
    request, last_hash = known
    if not events or events[0].seq != request.last_seq or events[0].hash != last_hash:
        return None
    for event in events[1:]:
        request = apply_event(request, event)
    return _remember(request, events[-1].hash)


def _whole(request_id: str, events: Sequence[Event]) -> Request:
    """The fold of all of a request's events."""
    if not events or events[0].kind != EventKind.REQUEST_CREATED:
        raise RequestNotFoundError(request_id)
    return _remember(fold_request(events), events[-1].hash)


def fold_whole(events: Sequence[Event]) -> Request:
    """The fold of a request's events, all of them from its ``request_created`` on (as a
    batch read in order holds them), kept for the next ``load``."""
    return _remember(fold_request(events), events[-1].hash)


def _remember(request: Request, last_hash: str) -> Request:
    with _folds_lock:
        _folds.pop(request.id, None)  # the newest at the end: the oldest go first
        if len(_folds) >= _FOLDS_KEPT:
            _folds.pop(next(iter(_folds)))
        _folds[request.id] = (request, last_hash)
    return request
