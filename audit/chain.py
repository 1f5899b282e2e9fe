"""The hash chain, as pure functions: each event's hash covers its content and
the previous event's hash, so an edit, a deletion or a reordering anywhere
breaks every link after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS_HASH = "0" * 64
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Event:
    """One audit event as stored. ``data`` is a JSON object; ``data_json`` the text
    stored for it, when read from the store (the hash covers exactly that text)."""

    seq: int
    ts: str
    request_id: str | None
    target: str | None
    actor: str
    kind: str
    data: Mapping[str, Any]
    prev_hash: str
    hash: str
    data_json: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Head:
    """A checkpoint of the chain: the last event's sequence number and hash."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        seq, _, digest = text.strip().partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ValueError(f"{text!r} is not a head of the form SEQ:SHA256")
        return cls(int(seq), digest)


@dataclass(frozen=True)
class Breach:
    """The first event that does not verify, and why."""

    seq: int
    reason: str


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept as is (one encoder for
    every call: building one per call was a third of hashing an event)."""
    return _CANONICAL.encode(value)


def event_hash(
    *,
    seq: int,
    ts: str,
    request_id: str | None,
    target: str | None,
    actor: str,
    kind: str,
    data_json: str,
    prev_hash: str,
) -> str:
    """SHA-256 over every stored field but the hash itself."""
    material = canonical_json([seq, ts, request_id, target, actor, kind, data_json, prev_hash])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def find_breach(
    events: Iterable[Event], checkpoints: Iterable[Head] = (), *, start: Head | None = None
) -> Breach | None:
    """The first event that breaks the chain, or a checkpoint the events no longer reach.

    Events must come in stored order, from the first, or from the one after
    ``start`` (an event already verified). Checks, per event: sequence numbers
    run 1, 2, 3… with no gap (a deleted event), ``prev_hash`` is the previous
    event's hash (a reordered or deleted event), and the hash matches the
    content (an edited field). Each checkpoint (a head recorded earlier, kept
    outside the table) must still be in the chain with the same hash: that is
    what catches a truncated tail.
    """
    wanted = {head.seq: head for head in checkpoints}
    expected_seq, prev = (start.seq + 1, start.hash) if start else (1, GENESIS_HASH)
    for event in events:
        if event.seq != expected_seq:
            missing = "missing" if event.seq > expected_seq else "out of order"
            return Breach(expected_seq, f"event {expected_seq} is {missing} (found {event.seq})")
        if event.prev_hash != prev:
            before = f"event {event.seq - 1}" if event.seq > 1 else "the start of the log"
            return Breach(
                event.seq,
                f"does not follow {before}: an event was rewritten, deleted or moved before it",
            )
        recomputed = event_hash(
            seq=event.seq,
            ts=event.ts,
            request_id=event.request_id,
            target=event.target,
            actor=event.actor,
            kind=event.kind,
            data_json=event.data_json
            if event.data_json is not None
            else canonical_json(event.data),
            prev_hash=event.prev_hash,
        )
        if recomputed != event.hash:
            return Breach(event.seq, "content does not match its hash (edited)")
        checkpoint = wanted.pop(event.seq, None)
        if checkpoint is not None and checkpoint.hash != event.hash:
            return Breach(event.seq, f"differs from the recorded head {checkpoint}")
        expected_seq, prev = event.seq + 1, event.hash
    if wanted:
        lost = min(wanted)
        return Breach(lost, f"event {lost} was recorded as the head but is gone (truncated)")
    return None
