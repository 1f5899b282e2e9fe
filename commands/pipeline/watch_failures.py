"""The application's failures during the watch: transactions rolled back, queries
cancelled by recovery conflicts, deadlocks (``pg_stat_database``), against the period
before the run. Pure.

A failing statement never reaches ``pg_stat_statements``: an application whose queries
break after a migration (a dropped column it still reads) shows only here, as
rollbacks. They regress when there are at least ``MIN_ROLLBACKS`` of them in the watch
and their rate is ``watch_slowdown`` times the rate before (any rate, when there were
none before); a conflict or deadlock regresses the same way from one. Without a period
before to compare with, rollbacks regress when they are ``UNKNOWN_BEFORE_SHARE`` of the
transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from commands.postgres.database_activity import DatabaseActivity
from commands.units import format_duration

MIN_ROLLBACKS = 5  # fewer in a whole watch is noise (a user's typo in psql)
UNKNOWN_BEFORE_SHARE = 0.05


@dataclass(frozen=True)
class Failures:
    """The counts of the watch, and of the period before when it is known."""

    after: DatabaseActivity
    after_s: float
    before: DatabaseActivity | None = None
    before_s: float | None = None
    slowdown: float = 2.0

    def _rose(self, attribute: str, minimum: int) -> bool:
        after: int = getattr(self.after, attribute)
        if after < minimum:
            return False
        if self.before is None or not self.before_s:
            if attribute != "rollbacks":
                return True
            total = self.after.commits + self.after.rollbacks
            return bool(total) and after / total >= UNKNOWN_BEFORE_SHARE
        rate_before: float = getattr(self.before, attribute) / self.before_s
        return after / max(self.after_s, 1e-3) > self.slowdown * rate_before

    @property
    def rollbacks_rose(self) -> bool:
        return self._rose("rollbacks", MIN_ROLLBACKS)

    @property
    def conflicts_rose(self) -> bool:
        return self._rose("conflicts", 1)

    @property
    def deadlocks_rose(self) -> bool:
        return self._rose("deadlocks", 1)

    @property
    def regressed(self) -> bool:
        return self.rollbacks_rose or self.conflicts_rose or self.deadlocks_rose

    def verdict_parts(self) -> list[str]:
        """What regressed, in a few words each."""
        parts = []
        if self.rollbacks_rose:
            parts.append(
                f"application errors: {self.after.rollbacks:,} transaction(s) rolled back"
                f" ({self._before_words('rollbacks')})"
            )
        if self.conflicts_rose:
            parts.append(f"{self.after.conflicts:,} recovery conflict(s)")
        if self.deadlocks_rose:
            parts.append(f"{self.after.deadlocks:,} deadlock(s)")
        return parts

    def _before_words(self, attribute: str) -> str:
        if self.before is None or not self.before_s:
            return "no period before to compare with"
        count = getattr(self.before, attribute)
        return "none before the run" if not count else f"{count:,} before the run"

    def line(self) -> str:
        """The figures, for the report."""
        after = self.after
        rate = after.rollbacks / max(self.after_s, 1e-3)
        text = (
            f"Failures: {after.rollbacks:,} transaction(s) rolled back in the watch"
            f" ({rate:.1f}/s, {after.commits:,} committed)"
        )
        if self.before is not None and self.before_s:
            before_rate = self.before.rollbacks / self.before_s
            text += (
                f", against {self.before.rollbacks:,} ({before_rate:.1f}/s) in the"
                f" {format_duration(self.before_s)} before"
            )
        return f"{text}; {after.conflicts:,} recovery conflict(s), {after.deadlocks:,} deadlock(s)"

    def to_json(self) -> dict[str, Any]:
        return {
            "after": self.after.to_json(),
            "after_s": round(self.after_s, 3),
            "before": None if self.before is None else self.before.to_json(),
            "before_s": None if self.before_s is None else round(self.before_s, 3),
            "slowdown": self.slowdown,
            "regressed": self.regressed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Failures | None:
        if data is None:
            return None
        after = DatabaseActivity.from_json(data["after"])
        assert after is not None
        return cls(
            after=after,
            after_s=float(data["after_s"]),
            before=DatabaseActivity.from_json(data.get("before")),
            before_s=None if data.get("before_s") is None else float(data["before_s"]),
            slowdown=float(data.get("slowdown", 2.0)),
        )


def failures_between(
    before: DatabaseActivity | None,
    before_s: float | None,
    start: DatabaseActivity | None,
    end: DatabaseActivity | None,
    *,
    after_s: float,
    slowdown: float,
) -> Failures | None:
    """The watch's failures from its two samples; None when either could not be read or
    the statistics were reset between them."""
    if start is None or end is None:
        return None
    after = end.minus(start)
    if after is None:
        return None
    return Failures(after, after_s, before, before_s if before is not None else None, slowdown)
