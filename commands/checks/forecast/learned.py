"""Rates learned on the target: what its past runs and rehearsals took, per kind of work per GB.

The audit log is the state: every run and rehearsal that was forecast ends
with a ``forecast_scored`` event holding its samples (``scoring.py``). The
rates are folded from the newest ``HISTORY`` of those events for the target,
so what the server did lately counts and an old server's figures age out.
A kind's rate is the median of its samples (one odd run does not move it),
its range their spread (never narrower than ``LEARNED_RANGE``).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from audit.chain import Event
from audit.store import EventStore
from commands.checks.forecast.classes import WorkKind
from commands.checks.forecast.rates import LEARNED_RANGE, Rate, Source
from commands.checks.forecast.scoring import Score
from commands.state.vocabulary import EventKind

HISTORY = 50
SAMPLES_PER_KIND = 20


@dataclass(frozen=True)
class Learned:
    """Rates learned from ``runs`` runs and ``rehearsals`` rehearsals on ``target``."""

    target: str
    rates: Mapping[WorkKind, Rate]
    runs: int
    rehearsals: int

    @property
    def basis(self) -> str:
        """'calibrated on 14 past runs and 2 rehearsals on prod'."""
        parts = []
        if self.runs:
            parts.append(f"{self.runs} past run{'s' * (self.runs != 1)}")
        if self.rehearsals:
            parts.append(f"{self.rehearsals} rehearsal{'s' * (self.rehearsals != 1)}")
        return f"calibrated on {' and '.join(parts)} on {self.target}"


def learned_rates(store: EventStore, target: str) -> Learned:
    """The rates ``target``'s recorded runs and rehearsals teach."""
    events = store.events(
        target=target, kinds=[EventKind.FORECAST_SCORED], newest_first=True, limit=HISTORY
    )
    return learned_from(target, events)


def learned_from(target: str, events: Iterable[Event]) -> Learned:
    """``learned_rates`` over ``events`` (newest first; the first ``HISTORY`` count)."""
    by_kind: dict[WorkKind, list[float]] = {}
    taught = {"run": 0, "rehearsal": 0}
    for event in itertools.islice(events, HISTORY):
        scored = Score.from_json(event.data)
        if scored.samples:
            taught[scored.source] = taught.get(scored.source, 0) + 1
        for sample in scored.samples:
            kept = by_kind.setdefault(sample.kind, [])
            if len(kept) < SAMPLES_PER_KIND:
                kept.append(sample.seconds_per_gb)
    rates = {kind: _rate(values) for kind, values in by_kind.items()}
    return Learned(target, rates, taught["run"], taught["rehearsal"])


def _rate(values: list[float]) -> Rate:
    middle = statistics.median(values)
    low = min(min(values) / middle, LEARNED_RANGE[0])
    high = max(max(values) / middle, LEARNED_RANGE[1])
    return Rate(middle, low, high, Source.LEARNED, len(values))
