"""Which rates a forecast uses, and the sentence that says so on the card.

Learned rates win for the kinds of work past runs and rehearsals on the
target taught; for the others a calibration probe runs on the target, when
the plan's work on them is large enough to matter (``PROBE_WORTH_BYTES``)
and the target allows it (``checks.forecast_probe``); else the built-in rates
stand, and the basis says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from commands.checks.forecast.classes import WorkKind
from commands.checks.forecast.learned import Learned
from commands.checks.forecast.probe import ProbeResult
from commands.checks.forecast.rates import Rates, built_in_rates
from commands.errors import MigrateBotError
from commands.units import format_bytes, format_duration

PROBE_WORTH_BYTES = 64 * 1024**2

Probe = Callable[[], ProbeResult]


def choose_rates(
    work: Mapping[WorkKind, int],
    *,
    learned: Learned | None,
    probe: Probe | None,
    target: str,
) -> Rates:
    """The rates for a plan doing ``work`` (bytes by kind); ``probe`` None: not allowed."""
    taught = dict(learned.rates) if learned is not None else {}
    needed = {kind for kind, size in work.items() if size > 0}
    untaught = sum(work[kind] for kind in needed - set(taught))
    measured, note = None, f"under {format_bytes(PROBE_WORTH_BYTES)} of work: no calibration"
    if untaught >= PROBE_WORTH_BYTES:
        measured, note = _probe(probe)
    rates = built_in_rates()
    if measured is not None:
        rates = rates.overridden(measured.rates(rates), "")
    rates = rates.overridden(taught, "")
    return rates.overridden(
        {}, _basis(set(work), needed, learned=learned, measured=measured, note=note, target=target)
    )


def _probe(probe: Probe | None) -> tuple[ProbeResult | None, str]:
    if probe is None:
        return None, "the calibration probe is switched off"
    try:
        return probe(), ""
    except MigrateBotError as exc:
        return None, str(exc)


def _basis(
    kinds: set[WorkKind],
    needed: set[WorkKind],
    *,
    learned: Learned | None,
    measured: ProbeResult | None,
    note: str,
    target: str,
) -> str:
    """'calibrated on 14 past runs on prod', 'first run on prod: calibrated now (0.9 s probe)'…"""
    if not kinds:
        return "catalog-only: instant once each lock is granted"
    taught = needed & set(learned.rates) if learned is not None else set()
    probe = f"calibrated now ({format_duration(measured.seconds)} probe)" if measured else ""
    if learned is not None and taught and taught == needed:
        return learned.basis
    if learned is not None and taught:
        rest = probe or f"built-in rates ({note})"
        return f"{learned.basis}; {rest} for the rest"
    if measured is not None:
        first = learned is None or not (learned.runs or learned.rehearsals)
        return f"first run on {target}: {probe}" if first else f"{probe}: new kinds of work"
    return f"built-in rates ({note})"
