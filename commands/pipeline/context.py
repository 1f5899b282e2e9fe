"""The bundle a run is made with: config, request service, audit log, clock, actor and
how a target is opened.

The run (``run_request``), its steps and hooks, and the window scheduler all read
these few things. Passed as one frozen ``RunContext``, a step gets what it reads
instead of a back-reference to what made it, and a front builds the bundle once
and hands the same one to each.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.store import Clock, EventStore, utc_now
from commands.config.targets_file import Config
from commands.requests import RequestService
from commands.targets import TargetHandle, TargetOpener, open_target

BOT_ACTOR = "migrate-bot"
"""Who the audit log names for what the bot does on its own (runs, expiries, cleanup)."""


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """What runs and schedules are made with; one per bot process (or CLI command)."""

    config: Config
    requests: RequestService
    store: EventStore
    clock: Clock = utc_now
    open_target: TargetOpener = open_target
    actor: str = BOT_ACTOR

    def target(self, name: str) -> TargetHandle:
        """The configured target ``name``, opened; raises ``UnknownTargetError``."""
        return self.open_target(self.config.target(name))
