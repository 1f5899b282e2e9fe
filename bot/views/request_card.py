"""What the request message shows, gathered by its caller: the one input of its views.

Its own module because every part of the message reads it: ``request`` draws the
message (``request_members`` a fleet's parts), ``request_frame`` its frame,
``outcome`` its state line and ways back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.views.run_picture import FleetPicture, RunPicture
from commands.config.fleet import FleetSettings
from commands.pipeline.ways_back import WayBack
from commands.requests.model import Request
from commands.state.vocabulary import ChecklistItem


@dataclass(frozen=True)
class RequestCard:
    """The request as the audit log folds it, plus what the policy still needs and the
    run's news."""

    request: Request
    approvers: tuple[str, ...]  # as configured: user ids, @handles, S… ids
    checklist: tuple[ChecklistItem, ...]  # the items the target requires
    missing: tuple[str, ...]  # what the approval policy still needs, in words
    approval_ttl_s: float
    now: datetime
    run: RunPicture | None = None
    ways_back: tuple[WayBack, ...] = ()  # a single target's or a fleet's
    note: str | None = None  # e.g. why an approved request has not started
    can_schedule: bool = True  # the target has windows or allows any time, and a scheduler runs
    fleet: FleetPicture | None = None  # a fleet request's run, once it started
    fleet_settings: FleetSettings | None = None  # its waves, concurrency and max_failures
