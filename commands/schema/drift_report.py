"""A drift check's result as plain data: what pre-flight records, the sweep logs and the
views draw. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from commands.schema.compare import Difference
from commands.schema.model import sha256_json
from commands.schema.wording import drift_line

DDL_HEADER = (
    "-- What would make the database match its migration history."
    " migrate-bot never runs this: review it first."
)


class DriftState(StrEnum):
    OK = "ok"
    DRIFTED = "drifted"
    UNKNOWN = "unknown"  # could not be checked; ``error`` says why


@dataclass(frozen=True)
class DriftReport:
    """One drift check of one database."""

    target: str
    state: DriftState
    revisions: tuple[str, ...]
    checked_at: datetime
    differences: tuple[Difference, ...] = ()
    ddl: tuple[str, ...] = ()
    error: str | None = None
    cached: bool = False
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def lines(self) -> list[str]:
        return [drift_line(d) for d in self.differences]

    @property
    def digest(self) -> str:
        """What tells one drift from another: the state and the differences (not when)."""
        return sha256_json([self.state.value, [d.to_json() for d in self.differences]])

    def summary(self) -> str:
        """``OK`` / ``DRIFTED: 3 differences from the history at 4f1c7a9e2b87``."""
        at = ", ".join(self.revisions) or "base"
        if self.state is DriftState.UNKNOWN:
            return f"not checked: {self.error}"
        if self.state is DriftState.OK:
            return f"OK: the schema matches the history at {at}"
        count = len(self.differences)
        noun = "difference" if count == 1 else "differences"
        return f"DRIFTED: {count} {noun} from the history at {at}"

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "state": self.state.value,
            "revisions": list(self.revisions),
            "checked_at": self.checked_at.isoformat(),
            "differences": [d.to_json() for d in self.differences],
            "lines": self.lines,
            "ddl": list(self.ddl),
            "error": self.error,
            "cached": self.cached,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "digest": self.digest,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DriftReport:
        return cls(
            target=data["target"],
            state=DriftState(data["state"]),
            revisions=tuple(data["revisions"]),
            checked_at=datetime.fromisoformat(data["checked_at"]),
            differences=tuple(Difference.from_json(d) for d in data["differences"]),
            ddl=tuple(data.get("ddl", ())),
            error=data.get("error"),
            cached=bool(data.get("cached")),
            timings=dict(data.get("timings", {})),
        )
