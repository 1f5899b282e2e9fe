"""What a check is and what a set of them adds up to.

A check is a small named function that looks at one thing and answers pass,
warn or fail with a one-line summary and details. A report is the checks of
one phase (pre-flight, verification) with its overall verdict: ``fail``
blocks approval and running, ``warn`` is shown to the approver.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

import psycopg

from audit.redact import redact
from commands.config.checks import CheckSettings
from commands.errors import MigrateBotError
from commands.migration.script.plan import Plan


class Verdict(StrEnum):
    """A check's answer. ``skip``: switched off or not configured; counts as a pass."""

    SKIP = "skip"
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Verdict.SKIP: 0, Verdict.PASS: 0, Verdict.WARN: 1, Verdict.FAIL: 2}


class Level(StrEnum):
    """How much one finding inside a check matters."""

    NOTE = "note"
    WARN = "warn"
    FAIL = "fail"

    @property
    def verdict(self) -> Verdict:
        return {Level.NOTE: Verdict.PASS, Level.WARN: Verdict.WARN, Level.FAIL: Verdict.FAIL}[self]


class Phase(StrEnum):
    PREFLIGHT = "preflight"
    VERIFICATION = "verification"
    PARTIAL = "partial"
    REHEARSAL = "rehearsal"


@dataclass(frozen=True)
class CheckResult:
    """One check's answer: the verdict, one line for the approver and the details."""

    name: str
    verdict: Verdict
    summary: str
    details: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict.value,
            "summary": self.summary,
            "details": list(self.details),
            "data": dict(self.data),
            "duration_s": round(self.duration_s, 4),
        }


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The verdict that decides: fail over warn over pass (skips count as passes)."""
    found = max(verdicts, key=lambda v: v.rank, default=Verdict.PASS)
    return Verdict.PASS if found is Verdict.SKIP else found


def levels_verdict(levels: Iterable[Level]) -> Verdict:
    return worst(level.verdict for level in levels)


@dataclass(frozen=True)
class RollbackPath:
    """One way back the pipeline can offer after a failed run (each needs an approval)."""

    kind: str  # "downgrade" | "restore"
    description: str


@dataclass(frozen=True)
class Report:
    """The checks of one phase on one target, and what they add up to."""

    phase: Phase
    target: str
    results: tuple[CheckResult, ...]
    started_at: datetime
    duration_s: float
    plan: Plan | None = None
    server_version: str | None = None
    rollback: tuple[RollbackPath, ...] = ()

    @property
    def verdict(self) -> Verdict:
        return worst(r.verdict for r in self.results)

    @property
    def blocks(self) -> bool:
        """A failed pre-flight blocks approval and running; a failed verification fails the run."""
        return self.verdict is Verdict.FAIL

    def result(self, name: str) -> CheckResult:
        """The result of the check called ``name``; raises ``KeyError``."""
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "phase": self.phase.value,
            "target": self.target,
            "verdict": self.verdict.value,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "duration_s": round(self.duration_s, 3),
            "server_version": self.server_version,
            "plan": None
            if plan is None
            else {
                "direction": plan.direction.value,
                "from": list(plan.current),
                "to": list(plan.destination),
                "revisions": [{"revision": r.id, "message": r.message} for r in plan.revisions],
            },
            "checks": [r.to_json() for r in self.results],
            "rollback": [{"kind": p.kind, "description": p.description} for p in self.rollback],
        }


ContextT = TypeVar("ContextT")


@dataclass(frozen=True)
class Check(Generic[ContextT]):
    """A named check: ``run(context)`` returns its result."""

    name: str
    run: Callable[[ContextT], CheckResult]


def run_checks(
    checks: Sequence[Check[ContextT]], context: ContextT, settings: CheckSettings
) -> list[CheckResult]:
    """Run each enabled check in order and time it.

    A check that cannot do its work (a ``MigrateBotError``, or PostgreSQL
    refusing a query) fails with the reason: a check that did not run proves
    nothing, so it must not pass. Anything else is a bug and propagates.
    """
    results = []
    for check in checks:
        if not settings.enabled(check.name):
            results.append(
                CheckResult(check.name, Verdict.SKIP, "switched off in this target's checks.skip")
            )
            continue
        started = time.monotonic()
        try:
            result = check.run(context)
        except (MigrateBotError, psycopg.Error) as exc:
            result = CheckResult(check.name, Verdict.FAIL, f"could not run: {_first_line(exc)}")
        results.append(_timed(result, time.monotonic() - started))
    return results


def _timed(result: CheckResult, seconds: float) -> CheckResult:
    return CheckResult(
        result.name, result.verdict, result.summary, result.details, result.data, seconds
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0]) if text else type(exc).__name__
