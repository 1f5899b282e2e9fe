"""How right the forecast was: each revision's forecast beside what it took, and what to learn.

After a run or a rehearsal, each revision's actual duration is set beside its
forecast. A revision that one pass of work dominates (the rest of it,
taken at its forecast, is at most ``1 - DOMINANT`` of what it took) teaches
that kind's rate on this server: the seconds left once the rest is taken
off, per GB of the pass. A small pass (under ``MIN_SAMPLE_BYTES``) teaches nothing: its time is
mostly fixed costs. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from commands.checks.forecast.classes import WorkKind
from commands.checks.forecast.model import Forecast, RevisionForecast, Span

DOMINANT = 0.7
MIN_SAMPLE_BYTES = 8 * 1024**2
GB = 1024**3


@dataclass(frozen=True)
class Sample:
    """One pass of work and the seconds it took: a rate measured on this server."""

    kind: WorkKind
    bytes: int
    seconds: float

    @property
    def seconds_per_gb(self) -> float:
        return self.seconds / (self.bytes / GB)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "bytes": self.bytes, "seconds": round(self.seconds, 4)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sample:
        return cls(WorkKind(data["kind"]), int(data["bytes"]), float(data["seconds"]))


@dataclass(frozen=True)
class ScoredRevision:
    """A revision's forecast (None: none was made) beside its actual seconds."""

    revision: str
    forecast: Span | None
    actual: float

    @property
    def ratio(self) -> float | None:
        """Actual over forecast: 2.0 took twice as long as forecast."""
        if self.forecast is None or self.forecast.seconds <= 0:
            return None
        return self.actual / self.forecast.seconds

    @property
    def in_range(self) -> bool | None:
        if self.forecast is None:
            return None
        return self.forecast.low <= self.actual <= self.forecast.high

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "forecast": self.forecast.to_json() if self.forecast else None,
            "actual_s": round(self.actual, 4),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScoredRevision:
        return cls(
            str(data["revision"]), Span.from_json(data.get("forecast")), float(data["actual_s"])
        )


@dataclass(frozen=True)
class Score:
    """A run's (or a rehearsal's) revisions scored, and the samples they teach."""

    source: str  # "run" | "rehearsal"
    revisions: tuple[ScoredRevision, ...]
    samples: tuple[Sample, ...]

    @property
    def forecast_total(self) -> Span | None:
        spans = [r.forecast for r in self.revisions if r.forecast is not None]
        if not spans or len(spans) < len(self.revisions):
            return None
        return sum(spans[1:], spans[0])

    @property
    def actual_total(self) -> float:
        return sum(r.actual for r in self.revisions)

    def to_json(self) -> dict[str, Any]:
        total = self.forecast_total
        return {
            "source": self.source,
            "revisions": [r.to_json() for r in self.revisions],
            "samples": [s.to_json() for s in self.samples],
            "forecast_total": total.to_json() if total else None,
            "actual_total_s": round(self.actual_total, 4),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Score:
        return cls(
            str(data.get("source", "run")),
            tuple(ScoredRevision.from_json(r) for r in data.get("revisions", ())),
            tuple(Sample.from_json(s) for s in data.get("samples", ())),
        )


def score(forecast: Forecast, actual: Sequence[tuple[str, float]], *, source: str) -> Score:
    """The revisions that ran (``actual``: revision, seconds, in order) against ``forecast``."""
    scored, samples = [], []
    for revision, seconds in actual:
        forecasted = forecast.revision(revision)
        span = forecasted.time if forecasted is not None and not forecasted.opaque else None
        scored.append(ScoredRevision(revision, span, seconds))
        sample = _sample(forecasted, seconds) if forecasted is not None else None
        if sample is not None:
            samples.append(sample)
    return Score(source, tuple(scored), tuple(samples))


def _sample(forecast: RevisionForecast, seconds: float) -> Sample | None:
    if forecast.time is None or forecast.opaque or forecast.time.seconds <= 0:
        return None
    passes = [work for statement in forecast.statements for work in statement.work]
    main = max(passes, key=lambda work: work.time.seconds, default=None)
    if main is None or main.bytes < MIN_SAMPLE_BYTES:
        return None
    rest = forecast.time.seconds - main.time.seconds  # the others, taken at their forecast
    if rest > (1 - DOMINANT) * seconds:
        return None
    return Sample(main.kind, main.bytes, seconds - rest)
