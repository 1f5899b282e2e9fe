"""Scheduling through Slack: ``/migrate schedule``, the Schedule modal, and what people
are told as a slot comes (the scheduler's ``WindowNotices``).

A scheduled request is asked like any other (pre-flight, message, approvers
told), bound to its slot before its message is posted, and announced to the
ops channel, the stakeholders and its thread. The scheduler reminds them
before the slot, says when it starts, and says why when it did not run; the
outcome is announced as for any run. Every notice has its own outbox key, so
a restart never tells anyone twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Protocol

from bot.flows.asker import Asker
from bot.flows.drift_notices import OpsDriftNotices
from bot.flows.request_messages import RequestMessages
from bot.views.blocks import Block
from bot.views.people import USER_ID
from bot.views.schedule import (
    did_not_run_notice,
    next_window_blocks,
    reminder_notice,
    scheduled_notice,
    starting_notice,
)
from commands.config.targets_file import TargetConfig
from commands.errors import MigrateBotError
from commands.pipeline import Proposal, RunContext
from commands.requests import Request, RequestRefused, WrongStateError
from commands.requests.schedules import not_started
from commands.requests.slots import Slot, next_window_slot, slot_at
from commands.scheduling.drift_sweep import SweepRunner
from commands.scheduling.scheduler import (
    LATE_START_LIMIT,
    SchedulerBusyError,
    WindowScheduler,
)
from commands.slash.commands import Schedule
from commands.state.vocabulary import RequestKind, RequestState

log = logging.getLogger(__name__)


class SchedulingUnavailableError(RequestRefused):
    """This bot process runs no scheduler (another one does, or it is stopping)."""


class Ask(Protocol):
    """How scheduling asks for a request (``Asking.ask``)."""

    def __call__(
        self, asker: Asker, *, kind: RequestKind, target: str, goal: str | None, slot: Slot | None
    ) -> Proposal: ...


class RunStarter(Protocol):
    """How the scheduler starts an approved request's run at its slot, to end by the slot's
    end (``RunFlow``); raises ``MigrateBotError`` when it cannot."""

    def submit(self, request_id: str, target: str, *, until: datetime | None) -> None: ...


class ScheduleFlow:
    """The Slack front's scheduling; ``start(runs)`` runs the scheduler for the state
    file, and sets ``here`` while it runs in this process (the request messages offer
    Schedule then)."""

    def __init__(
        self,
        *,
        context: RunContext,
        messages: RequestMessages,
        ask: Ask,
        here: threading.Event,
        late_start_limit: timedelta = LATE_START_LIMIT,
    ) -> None:
        self.ask = ask
        self.context = context
        self.messages = messages
        self.here = here
        self.late_start_limit = late_start_limit
        self.scheduler: WindowScheduler | None = None
        self.unavailable = "the scheduler has not started"

    def start(self, runs: RunStarter) -> ScheduleFlow:
        """Run the scheduler, starting runs at their slots through ``runs``; if another
        process runs it, scheduling here is refused."""
        drift = OpsDriftNotices(self.context.config, self.messages.notifier)
        scheduler = WindowScheduler(
            self.context,
            notices=self,
            submit=lambda request, until: runs.submit(request.id, request.target, until=until),
            late_start_limit=self.late_start_limit,
            sweeps=SweepRunner(self.context, drift),
        )
        if self.context.config.bot.shared:  # one holder across the workers; the others stand by
            self.scheduler = scheduler.stand_by()
        else:
            try:
                self.scheduler = scheduler.start()
            except SchedulerBusyError as busy:
                self.unavailable = str(busy)
                log.warning("no scheduler in this process: %s", busy)
        if self.scheduler is not None:
            self.here.set()
        return self

    def stop(self) -> None:
        self.here.clear()
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        self.unavailable = "the bot is stopping"

    # --- asking -----------------------------------------------------------------

    def slot_for(self, command: Schedule) -> Slot:
        """The slot a ``/migrate schedule`` asks for; raises ``ScheduleError``."""
        target = self.context.config.target(command.target)
        if command.at is None:
            return next_window_slot(target, now=self.context.clock())
        return slot_at(target, command.at, command.tz, now=self.context.clock())

    def schedule_command(self, asker: Asker, command: Schedule) -> Request:
        """A new upgrade request bound to the slot asked for. The slot is checked first,
        so a refused time runs no pre-flight and records nothing."""
        slot = self.slot_for(command)
        scheduler = self._scheduler()
        request = self.ask(
            asker, kind=RequestKind.UPGRADE, target=command.target, goal=command.to, slot=slot
        ).request
        scheduler.plan(request)
        self._announce(request, previous=None)
        return request

    def schedule_existing(self, request_id: str, *, user: str, slot: Slot) -> Request:
        """The Schedule modal: bind a request to ``slot`` or move it there. Raises the
        service's refusals (not the requester nor an approver, it already ran…)."""
        scheduler = self._scheduler()
        before = self.context.requests.get(request_id)
        request = self.context.requests.schedule(before.id, slot=slot, actor=user)
        scheduler.plan(request)
        self.messages.refresh(request.id)
        self._announce(request, previous=before.schedule.slot if before.schedule else None)
        return request

    def request_to_schedule(self, request_id: str) -> Request:
        """The request a Schedule click is for; raises ``WrongStateError`` once it ran."""
        request = self.context.requests.get(request_id)
        if not not_started(request):
            raise WrongStateError(request, "scheduled")
        return request

    def status_blocks(self, target: TargetConfig) -> list[Block]:
        """The next window and the requests waiting for a slot, for ``/migrate status``."""
        scheduled = self.context.requests.scheduled(target=target.name)
        return next_window_blocks(target, now=self.context.clock(), scheduled=scheduled)

    # --- what the request flow tells the scheduler ------------------------------

    def forget(self, request_id: str) -> None:
        if self.scheduler is not None:
            self.scheduler.forget(request_id)

    def run_refused(self, request_id: str, refusal: MigrateBotError) -> None:
        if self.scheduler is not None:
            self.scheduler.start_refused(request_id, str(refusal))

    # --- WindowNotices ------------------------------------------------------------

    def reminder(self, request: Request, before_s: float) -> None:
        assert request.schedule is not None
        remaining = request.schedule.slot.start - self.context.clock()
        waiting = request.state is not RequestState.APPROVED
        missing = self.context.requests.tally(request).missing if waiting else ()
        text, blocks = reminder_notice(request, remaining, missing)
        key = f"{_key(request)}:reminder:{before_s:g}"
        self.messages.thread(request, text, blocks, key=f"{key}:thread")
        self.messages.tell_stakeholders(request.target, text, blocks, key=f"{key}:stakeholders")

    def starting(self, request: Request) -> None:
        text, blocks = starting_notice(request)
        key = f"{_key(request)}:starting"
        self.messages.thread(request, text, blocks, key=f"{key}:thread")
        self.messages.tell_ops(text, blocks, key=f"{key}:ops")
        self.messages.tell_stakeholders(request.target, text, blocks, key=f"{key}:stakeholders")

    def did_not_run(self, request: Request) -> None:
        self.messages.refresh(request.id)
        text, blocks = did_not_run_notice(request)
        key = f"{request.id}:not-run"
        self.messages.thread(request, text, blocks, key=f"{key}:thread")
        self.messages.tell_ops(text, blocks, key=f"{key}:ops")
        self.messages.tell_stakeholders(request.target, text, blocks, key=f"{key}:stakeholders")
        if USER_ID.match(request.requester):
            self.messages.notifier.post(request.requester, text, blocks, key=f"{key}:requester")

    # --- helpers ------------------------------------------------------------------

    def _announce(self, request: Request, *, previous: Slot | None) -> None:
        text, blocks = scheduled_notice(request, previous=previous)
        key = f"{_key(request)}:scheduled"
        self.messages.thread(request, text, blocks, key=f"{key}:thread")
        self.messages.tell_ops(text, blocks, key=f"{key}:ops")
        self.messages.tell_stakeholders(request.target, text, blocks, key=f"{key}:stakeholders")

    def _scheduler(self) -> WindowScheduler:
        if self.scheduler is None:
            raise SchedulingUnavailableError(f"Scheduling is off in this bot: {self.unavailable}.")
        return self.scheduler


def _key(request: Request) -> str:
    """Notices are per request and slot: moving it tells people again."""
    assert request.schedule is not None
    return f"{request.id}:{request.schedule.slot.start:%Y%m%dT%H%MZ}"
