"""How a break-glass run ends, as the terminal waiting for it hears it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from commands.errors import MigrateBotError
from commands.pipeline import RunOutcome


@dataclass(kw_only=True)
class RunEnding:
    """The run's outcome, or its refusal, and the moment either arrives: the worker's two
    callbacks, for a single target's run and a fleet's alike."""

    outcome: RunOutcome | None = None
    refusal: MigrateBotError | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def finished(self, outcome: RunOutcome) -> None:
        self.outcome = outcome
        self.done.set()

    def refused(self, _request_id: str, refusal: MigrateBotError) -> None:
        self.refusal = refusal
        self.done.set()
