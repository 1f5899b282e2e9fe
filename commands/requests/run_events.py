"""What a run's events carry: a step (a check, the backup, a revision…), a text cut to
what an event keeps, a plan's places compared without their order. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from commands.migration.script.fingerprint import PlanFingerprint
from commands.requests.inputs import MAX_SUMMARY, clean_text, one_of
from commands.state.vocabulary import StepStatus


@dataclass(frozen=True)
class StepRecord:
    """One ``run_step`` event to record: a step's name, status and what it says."""

    step: str
    status: StepStatus
    revision: str | None = None
    duration_s: float | None = None
    detail: str = ""

    def event_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "step": clean_text(self.step, what="step name", limit=100, required=True),
            "status": one_of(StepStatus, self.status, what="step status"),
            "detail": clean_text(self.detail, what="detail", limit=MAX_SUMMARY),
        }
        if self.revision is not None:
            data["revision"] = self.revision
        if self.duration_s is not None:
            data["duration_s"] = round(float(self.duration_s), 4)
        return data


def unordered(fingerprint: PlanFingerprint) -> PlanFingerprint:
    """Several heads in any order are the same place (a version table has no order)."""
    return replace(
        fingerprint,
        from_revisions=tuple(sorted(fingerprint.from_revisions)),
        to_revisions=tuple(sorted(fingerprint.to_revisions)),
    )


def clipped(text: str) -> str:
    """An error text the run produced, cut to what an event keeps (it is never refused:
    a member's end must be recorded whatever its error says)."""
    text = text.strip()
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"
