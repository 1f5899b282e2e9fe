"""When a run must stop: its deadline or a cancel, checked before each step and revision.

Apart from ``run.py`` so that the steps (``stages.py``) can check the limits
without importing the pipeline that runs them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicStopped


class RunAborted(MigrateBotError):
    """The run was stopped on purpose: its deadline passed or an operator cancelled it."""


@dataclass(frozen=True)
class RunLimits:
    """When a run must stop: ``deadline`` on the monotonic clock, or when ``cancel`` is set."""

    deadline: float
    cancel: threading.Event
    reason_at_deadline: str

    def why(self, stop: Exception) -> str:
        """Why a run stopped, in words: a revision stopped at the deadline says which."""
        if isinstance(stop, AlembicStopped) and not self.cancel.is_set():
            return f"{self.reason_at_deadline}: {stop}"
        return str(stop)

    def check(self, before: str) -> None:
        """Raise ``RunAborted`` if the run must stop before starting ``before``."""
        if self.cancel.is_set():
            raise RunAborted(f"cancelled before {before}")
        if time.monotonic() >= self.deadline:
            raise RunAborted(f"{self.reason_at_deadline} before {before}")
