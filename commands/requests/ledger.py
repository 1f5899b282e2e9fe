"""Reads the request service makes, from a write transaction or the store itself.

Inside a ``Transaction`` what is read cannot change before the caller
appends: the check and the write are one ``BEGIN IMMEDIATE``. Plain reads
(listing, showing) go to the ``EventStore`` and take no write lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from audit.chain import Event
from commands.requests.errors import RequestNotFoundError
from commands.requests.inputs import request_id_of
from commands.requests.model import Freeze, Request, apply_event, fold_freeze, fold_request
from commands.state.vocabulary import EventKind, RequestState


class EventSource(Protocol):
    """``EventStore`` or a ``Transaction``: anything that reads events with filters."""

    def events(self, **filters: Any) -> Sequence[Event]: ...


_RUN_KINDS = (EventKind.RUN_STARTED, EventKind.RUN_FINISHED, EventKind.RUN_INTERRUPTED)


_FOLDS_KEPT = 512
_folds: dict[str, tuple[Request, str]] = {}
_folds_lock = threading.Lock()
"""Requests folded already, with the hash of the last event folded in: a run appends
two events per revision, and folding all of a long run's events again for each
would cost quadratic time. The hash chain makes the check exact: the same hash at
the same seq is the same history, whichever store it was read from."""


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


def _remember(request: Request, last_hash: str) -> Request:
    with _folds_lock:
        if len(_folds) >= _FOLDS_KEPT:
            _folds.pop(next(iter(_folds)))
        _folds[request.id] = (request, last_hash)
    return request


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
    open_runs: dict[str, None] = {}
    for event in log.events(target=target, kinds=list(_RUN_KINDS)):
        if event.request_id is None:
            continue
        if event.kind == EventKind.RUN_STARTED:
            open_runs[event.request_id] = None
        else:
            open_runs.pop(event.request_id, None)
    found = (load(log, request_id) for request_id in open_runs)
    return [r for r in found if r.state is RequestState.RUNNING]


def created_with_key(log: EventSource, target: str, key: str) -> Request | None:
    """The request created earlier with the same de-duplication key, if any."""
    for event in log.events(target=target, kinds=[EventKind.REQUEST_CREATED], newest_first=True):
        if event.data.get("dedupe_key") == key and event.request_id is not None:
            return load(log, event.request_id)
    return None


def newest_requests(
    log: EventSource, *, target: str | None, states: Iterable[RequestState] | None
) -> Iterator[Request]:
    """Requests newest first, optionally only those on ``target`` or in ``states``."""
    wanted = set(states) if states else None
    for event in log.events(target=target, kinds=[EventKind.REQUEST_CREATED], newest_first=True):
        if event.request_id is None:
            continue
        request = load(log, event.request_id)
        if wanted is None or request.state in wanted:
            yield request
