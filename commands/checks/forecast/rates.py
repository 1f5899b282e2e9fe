"""How fast this server does each kind of work: seconds per GB, and how sure that figure is.

Three sources, best first: what past runs and rehearsals on the target took
(``learned.py``), a short probe measured on the target now (``probe.py``),
and built-in figures measured by ``bench/forecast.py`` (the last resort:
another machine, so the widest range). A rate's ``low`` and ``high`` are the
factors its range spans around it. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from commands.checks.forecast.classes import WorkKind


class Source(StrEnum):
    LEARNED = "learned"
    PROBE = "probe"
    BUILT_IN = "built-in"


@dataclass(frozen=True)
class Rate:
    """Seconds per GB of one kind of work, with its range as factors (0.5 … 2: half to double)."""

    seconds_per_gb: float
    low: float
    high: float
    source: Source
    samples: int = 0


# Two runs of bench/forecast.py on a 2-core machine shared with other work (load average 7 to
# 34), PostgreSQL 18 with its default settings, tables of 10^6 and 10^7 rows of ~130 bytes:
# seconds per GB of the table's heap (of heap, indexes and TOAST for rewrites and updates,
# which write all of it). Each kind's rate over the probe's in the same run (the geometric mean
# of the two runs), times the probe's baseline (probe.PROBE_BASELINE), so a probe that reads
# the baseline predicts these. FK_CHECK, DELETE and INSERT were not measured: set from the
# kinds most like them; the first runs that do them teach better.
BUILT_IN = {
    WorkKind.SCAN: 2.2,
    WorkKind.FK_CHECK: 6.6,
    WorkKind.INDEX: 13.0,
    WorkKind.INDEX_CONCURRENT: 22.0,
    WorkKind.REWRITE: 42.0,
    WorkKind.UPDATE: 360.0,
    WorkKind.DELETE: 180.0,
    WorkKind.INSERT: 42.0,
}
BUILT_IN_RANGE = (0.25, 4.0)
PROBE_RANGE = (0.5, 2.0)
LEARNED_RANGE = (0.67, 1.5)  # the narrowest range, however alike the past runs
STATEMENT_OVERHEAD_S = 0.005
REVISION_OVERHEAD_S = 0.05  # Alembic's step: the version table, the commit


@dataclass(frozen=True)
class Rates:
    """A rate for every kind of work, and a sentence saying what they are based on."""

    by_kind: Mapping[WorkKind, Rate]
    basis: str

    def __getitem__(self, kind: WorkKind) -> Rate:
        return self.by_kind[kind]

    def overridden(self, better: Mapping[WorkKind, Rate], basis: str) -> Rates:
        """These rates with ``better`` ones where there are any."""
        return replace(self, by_kind={**self.by_kind, **better}, basis=basis)

    def as_json(self) -> dict[str, float]:
        return {kind.value: round(rate.seconds_per_gb, 4) for kind, rate in self.by_kind.items()}


def built_in_rates() -> Rates:
    low, high = BUILT_IN_RANGE
    return Rates(
        {kind: Rate(value, low, high, Source.BUILT_IN) for kind, value in BUILT_IN.items()},
        "built-in rates (no run on this target yet, no calibration)",
    )
