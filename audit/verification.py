"""Proving the chain: the whole of it, or only what was appended since the last proof.

A full walk rehashes every event from the first. After a walk that verifies,
the head it reached is recorded (``projections``' row ``audit verify``), and
an incremental walk starts there: it checks that that event is still in the
log with the same hash, then walks only the events after it. What that proves:
every new event is intact and chained to the verified head, and nothing was
rewritten through the head (a rewrite would change its hash). What only a full
walk proves: that no older event's content was changed without its hash being
recomputed (bit rot, a careless edit), since those events are not rehashed.
Either walk holds the log to the verified head as to the recorded one: a head
that is gone or changed sends the incremental walk back to the first event,
which names the first bad one, or says the log was rewritten since.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from audit.chain import Breach, Event, Head, find_breach


class EventStore(Protocol):
    """What a walk needs of the store (``audit.store.EventStore``)."""

    head_where: str

    def recorded_head(self) -> Head | None: ...

    def iter_events(self, *, after_seq: int | None = None) -> Iterator[Event]: ...

    def holds(self, head: Head) -> bool: ...

    def verified_head(self) -> Head | None: ...

    def record_verified(self, head: Head) -> None: ...


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` found: how many events it walked, the head, the first breach if any,
    and the verified head it started after (None: from the first event)."""

    events: int
    head: Head | None
    breach: Breach | None
    since: Head | None = None

    @property
    def ok(self) -> bool:
        return self.breach is None


def verify_chain(
    store: EventStore, expected: Sequence[Head] = (), *, incremental: bool = False
) -> VerifyReport:
    """Walk the chain (from the last verified head when ``incremental``); report the first
    breach, checking the recorded head and each ``expected`` head too. With events in
    the log but no readable recorded head and no expected head, the log does not
    verify: nothing would show a cut tail."""
    marks = list(expected)
    try:
        recorded = store.recorded_head()
    except ValueError:
        recorded, head_problem = None, f"{store.head_where} is unreadable"
    else:
        head_problem = f"{store.head_where} is missing"
    if recorded is not None:
        marks.append(recorded)
    verified = store.verified_head()
    if verified is not None:
        marks.append(verified)
    held = incremental and verified is not None and store.holds(verified)
    start = verified if held else None
    count = 0
    last: Event | None = None

    def counted() -> Iterator[Event]:
        nonlocal count, last
        for event in store.iter_events(after_seq=start.seq if start else None):
            count, last = count + 1, event
            yield event

    behind = [mark for mark in marks if start is not None and mark.seq <= start.seq]
    ahead = [mark for mark in marks if mark not in behind]
    breach = _first_not_held(store, behind) or find_breach(counted(), ahead, start=start)
    head = Head(last.seq, last.hash) if last else start
    if breach is None and head is not None and recorded is None and not expected:
        reason = f"{head_problem}, so a cut tail cannot be ruled out: give an expected head"
        breach = Breach(head.seq, reason)
    if breach is None and head is not None and head != start:
        store.record_verified(head)
    return VerifyReport(events=count, head=head, breach=breach, since=start)


def _first_not_held(store: EventStore, marks: Sequence[Head]) -> Breach | None:
    """Heads at or before the verified one are looked up, not walked to."""
    for mark in sorted(marks, key=lambda m: m.seq):
        if not store.holds(mark):
            return Breach(mark.seq, f"differs from the recorded head {mark}, or is gone")
    return None
