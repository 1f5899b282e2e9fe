"""How right the forecasts on a target have been: every scored run and rehearsal, in time order,
and what they add up to (``migrate-bot forecast-report``, the metrics). Pure over events."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from audit.chain import Event
from commands.checks.forecast.scoring import Score, ScoredRevision

TIMED_S = 1.0  # revisions faster than this say little about the rates: fixed costs dominate
WITHIN = 2.0


@dataclass(frozen=True)
class ScoredRun:
    """One ``forecast_scored`` event: when, which request, and its score."""

    at: str
    request_id: str | None
    score: Score


@dataclass(frozen=True)
class Accuracy:
    """Over the revisions that took ``TIMED_S`` or more: how many, how many within 2x of the
    forecast and inside its range, and the median of actual over forecast."""

    runs: int
    rehearsals: int
    timed: int
    within: int
    in_range: int
    median_ratio: float | None

    def sentence(self) -> str:
        if not self.timed:
            return f"no revision took {TIMED_S:.0f} s or more yet: nothing to judge the rates by"
        share = self.within / self.timed
        median = f"{self.median_ratio:.2f}" if self.median_ratio is not None else "-"
        return (
            f"of {self.timed} revisions that took {TIMED_S:.0f} s or more, {self.within}"
            f" ({share:.0%}) within {WITHIN:.0f}x of the forecast and {self.in_range} inside"
            f" its range; median actual/forecast {median}"
        )


def scored_runs(events: Iterable[Event]) -> list[ScoredRun]:
    return [ScoredRun(e.ts, e.request_id, Score.from_json(e.data)) for e in events]


def accuracy(runs: Sequence[ScoredRun]) -> Accuracy:
    revisions = [r for run in runs for r in run.score.revisions if r.ratio is not None]
    timed = [r for r in revisions if r.actual >= TIMED_S]
    ratios = [r.ratio for r in timed if r.ratio is not None]
    return Accuracy(
        runs=sum(run.score.source == "run" for run in runs),
        rehearsals=sum(run.score.source == "rehearsal" for run in runs),
        timed=len(timed),
        within=sum(_within(r) for r in timed),
        in_range=sum(bool(r.in_range) for r in timed),
        median_ratio=statistics.median(ratios) if ratios else None,
    )


def _within(revision: ScoredRevision) -> bool:
    ratio = revision.ratio
    return ratio is not None and 1 / WITHIN <= ratio <= WITHIN
