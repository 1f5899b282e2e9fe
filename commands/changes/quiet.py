"""How long nothing has used a column, from the counts sampled over time. Pure.

``pg_stat_statements`` keeps how often each statement ran, never when it last
did. So the gate samples the calls of every statement that reads or writes
the column, and records a sample only when the counts differ from the last
one recorded (or when there is none): a call, a statement that appears or
disappears, counts that went down (a reset, an eviction), a new
``stats_reset``. The quiet period therefore starts at the last recorded
sample: from then on, every reading found the same counts. Before the first
sample nothing is known, so a gate's quiet period never starts earlier than
the bot's first look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Reading:
    """The calls of each statement using a column, at one moment."""

    at: datetime
    calls: Mapping[str, int]  # queryid -> calls since the statistics' reset
    stats_reset: str | None = None
    texts: Mapping[str, str] | None = None  # queryid -> a short text, for the evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "stats_reset": self.stats_reset,
            "texts": dict(self.texts or {}),
        }

    @classmethod
    def from_json(cls, at: datetime, data: Mapping[str, Any]) -> Reading:
        return cls(at, dict(data["calls"]), data.get("stats_reset"), dict(data.get("texts", {})))

    def same_counts(self, other: Reading) -> bool:
        return dict(self.calls) == dict(other.calls) and self.stats_reset == other.stats_reset


@dataclass(frozen=True)
class Quiet:
    """Since when nothing used the column, and whether ``now`` must be recorded."""

    since: datetime
    record: bool
    used_between: tuple[datetime, datetime] | None = None  # the last use seen: after, before

    def held(self, now: datetime, quiet_for: float) -> bool:
        return (now - self.since).total_seconds() >= quiet_for


def judge(samples: Sequence[Reading], now: Reading) -> Quiet:
    """The quiet period given the recorded ``samples`` (oldest first) and a reading now."""
    if not samples:
        return Quiet(now.at, True)
    last = samples[-1]
    if not now.same_counts(last):
        return Quiet(now.at, True, (last.at, now.at))
    used = None
    if len(samples) > 1:
        used = (samples[-2].at, last.at)
    return Quiet(last.at, False, used)
