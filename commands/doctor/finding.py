"""One line of ``migrate-bot doctor``: what was checked, how it went, what to fix.

Each check answers one ``Finding``; a failure says in ``fix`` what to change, in the
words of the place where it is changed (a Slack settings page, a key of the targets
file, a GRANT).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Health(StrEnum):
    """``ok``: ready; ``warn``: works, with a gap worth closing; ``fail``: fix it first;
    ``skip``: not part of this set-up."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    check: str  # what was looked at: "slack token", "database prod"
    health: Health
    summary: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "health": self.health.value,
            "summary": self.summary,
            "fix": self.fix,
        }


def ok(check: str, summary: str) -> Finding:
    return Finding(check, Health.OK, summary)


def warn(check: str, summary: str, fix: str) -> Finding:
    return Finding(check, Health.WARN, summary, fix)


def fail(check: str, summary: str, fix: str) -> Finding:
    return Finding(check, Health.FAIL, summary, fix)


def skip(check: str, summary: str) -> Finding:
    return Finding(check, Health.SKIP, summary)


def failures(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.health is Health.FAIL]
