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
        request, last_hash = known
        events = log.events(request_id=request_id, after_seq=request.last_seq - 1)
        if events and events[0].seq == request.last_seq and events[0].hash == last_hash:
            for event in events[1:]:
                request = apply_event(request, event)
            return _remember(request, events[-1].hash)
    events = log.events(request_id=request_id)
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
