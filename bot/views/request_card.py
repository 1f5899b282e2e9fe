"""What the request message shows, gathered by its caller: the one input of its views.

Its own module because both halves of the message read it: ``request``
draws the message, ``outcome`` its state line and ways back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.views.run_picture import RunPicture
from commands.pipeline.progress import RollbackOffer
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
    ways_back: tuple[RollbackOffer, ...] = ()
    note: str | None = None  # e.g. why an approved request has not started
    can_schedule: bool = True  # the target has windows or allows any time, and a scheduler runs
