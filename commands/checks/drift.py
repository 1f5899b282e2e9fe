"""The ``drift`` pre-flight check: is the live schema the one the history says?

A hand-made ``ALTER TABLE``, an index dropped during an incident, a column
another tool changed: the plan would run on top of them without a word. The
check measures drift (``commands/schema/drift.py``) at the database's
current revision and, by the target's ``drift`` key, warns the approver
(``warn``, the default), blocks approval (``fail``) or says nothing
(``off``). A drift that could not be checked is a warning, or under ``fail``
a failure: a check that did not run proves nothing.
"""

from __future__ import annotations

from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Verdict
from commands.config.drift import DriftMode
from commands.schema.drift import measure_drift
from commands.schema.drift_report import DriftReport, DriftState

MAX_LINES_KEPT = 500
"""Differences kept in the check's record; past that the count says how many more."""


def check_drift(context: PreflightContext) -> CheckResult:
    mode = context.handle.config.drift.mode
    if mode is DriftMode.OFF:
        return CheckResult("drift", Verdict.SKIP, 'switched off (drift = "off")')
    report = measure_drift(context.handle, context.state, cache=context.schema_cache)
    return drift_result(report, mode)


def drift_result(report: DriftReport, mode: DriftMode) -> CheckResult:
    """A drift report as a check: pass when OK, else warn or fail as ``mode`` says."""
    data = report.to_json()
    if len(report.differences) > MAX_LINES_KEPT:
        data["differences"] = data["differences"][:MAX_LINES_KEPT]
        data["lines"] = data["lines"][:MAX_LINES_KEPT]
        data["more"] = len(report.differences) - MAX_LINES_KEPT
    if report.state is DriftState.OK:
        return CheckResult("drift", Verdict.PASS, report.summary(), data=data)
    verdict = Verdict.FAIL if mode is DriftMode.FAIL else Verdict.WARN
    summary = report.summary()
    if report.state is DriftState.DRIFTED:
        first = report.lines[0]
        summary += f": {first}" if len(report.lines) == 1 else f"; first: {first}"
        if verdict is Verdict.FAIL:
            summary += ' (drift = "fail": approval is blocked until the database matches)'
    return CheckResult("drift", verdict, summary, tuple(report.lines[:MAX_LINES_KEPT]), data)
