"""A request's way through Slack: asked, ticked, approved or turned down, run, rolled back.

Each method is what one slash command or click does once it has been
acknowledged, on the bot's worker: a call into the request service (whose
transitions are conditional writes, so a double click or a retry loses
politely with ``AlreadyDoneError``), then the message drawn again. Refusals
are raised as ``MigrateBotError``s for the one error handler to show; the
sentences returned are the clicker's private confirmation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta

from bot.flows.asker import Asker
from bot.flows.plan_cache import RecentPlans
from bot.flows.request_messages import RequestMessages
from bot.flows.schedule_flow import ScheduleFlow
from bot.logs.setup import log_context
from bot.views.announcements import freeze_announcement
from bot.views.people import mention
from bot.worker import background_priority
from commands.errors import MigrateBotError
from commands.migration.script.plan import Plan
from commands.pipeline import (
    InterruptedRun,
    Proposal,
    RunContext,
    RunOutcome,
    RunThreads,
    RunWrappers,
    propose,
    recover_interrupted,
)
from commands.pipeline.outcomes import recorded_outcome
from commands.pipeline.plans import plan_again
from commands.pipeline.run_threads import AlreadyRunningError, Runs
from commands.pipeline.ways_back import FleetWayBack, fleet_way_back, way_back
from commands.requests import (
    AlreadyDoneError,
    GroupLookup,
    Request,
    RequestRefused,
)
from commands.requests.inputs import one_of, parse_request_id
from commands.requests.policy import check_approver
from commands.requests.slots import Slot
from commands.state.people import Directory
from commands.state.vocabulary import RUN_OUTCOMES, ChecklistItem, RequestKind, RequestState

log = logging.getLogger(__name__)

# how far back a restart looks for runs whose outcome was never announced
UNANNOUNCED_LOOKBACK = timedelta(days=1)


def _logged(request_id: str, target: str) -> AbstractContextManager[None]:
    """A run's log lines name its request and the database it runs on (a member's own)."""
    return log_context(request_id=request_id, target=target)


class NotTheRequesterError(RequestRefused):
    """Someone other than the requester ticked the checklist: it counts only from them."""


class RequestFlow:
    """The Slack front's calls into requests and runs; one per bot process.

    ``runs`` is where approved requests go: this process's ``executor`` (a pool
    of run threads, the embedded default) or, with a shared state, the job
    queue (``QueuedRuns``), whose workers hand each run to their ``executor``.
    It holds its ``scheduling`` (started or not by the runtime), which asks
    requests and starts runs through it (``ScheduleFlow``'s ``RequestDesk``).
    """

    def __init__(
        self,
        *,
        context: RunContext,
        messages: RequestMessages,
        groups: GroupLookup,
        plans: RecentPlans,
        runs: Runs | None = None,
        people: Directory | None = None,
    ) -> None:
        self.context = context
        self.messages = messages
        self.groups = groups
        self.plans = plans
        self.people = people  # who is who, for the terminal (bot.middleware.names)
        self.executor = RunThreads(
            context,
            wrappers=RunWrappers(around=_logged, member_thread=background_priority),
            on_update=messages.on_update,
            on_outcome=self._finished,
            on_refused=self._refused,
        )
        self.runs: Runs = runs or self.executor
        self.scheduling = ScheduleFlow(context=context, messages=messages, desk=self)
        messages.scheduler_running = lambda: self.scheduling.scheduler is not None

    # --- asking ---------------------------------------------------------------

    def ask(
        self,
        asker: Asker,
        *,
        kind: RequestKind,
        target: str,
        goal: str | None,
        reason: str = "",
        slot: Slot | None = None,
        members: Sequence[str] | None = None,
        goals: Mapping[str, str] | None = None,
    ) -> Proposal:
        """Pre-flight, record and post a new request (bound to ``slot`` if given); its
        approvers are told when it may be approved. On a fleet, one request over its
        members (``members``: some of them, ``goals``: each one's own goal). Raises the
        pipeline's ``ProposalError``, ``NothingToDoError``, a ``ScheduleError``…"""
        proposal = propose(
            self.context,
            kind=kind,
            target=target,
            goal=goal,
            requester=asker.user,
            origin={"channel": asker.channel},
            reason=reason,
            dedupe_key=asker.dedupe_key,
            members=members,
            goals=goals,
        )
        request = proposal.request
        if slot is not None and request.schedule is None:
            proposal = replace(proposal, request=self._bind(request, slot, asker.user))
            request = proposal.request
        if proposal.plan.sql:
            self.plans.keep(request.id, proposal.plan)
        self.messages.post(request, request.origin.get("channel") or asker.channel)
        if request.state is RequestState.AWAITING_APPROVAL:
            self.messages.ask_approvers(request)
        return proposal

    def _bind(self, request: Request, slot: Slot, user: str) -> Request:
        """Schedule a request just asked for; one that cannot be is withdrawn, not left to
        run on approval."""
        try:
            return self.context.requests.schedule(request.id, slot=slot, actor=user)
        except MigrateBotError:
            self.context.requests.cancel(request.id, actor=user, reason="it could not be scheduled")
            raise

    def roll_back(self, failed_id: str, asker: Asker, *, restore: bool) -> Proposal:
        """A "Roll back" or "Restore backup" click: a new request, asked by the clicker.

        Raises ``RequestRefused`` when the request has no such way back.
        """
        failed = self.context.requests.get(failed_id)
        offer = way_back(failed, self.context.store, restore=restore)
        which = "restore" if restore else "revisions"
        return self.ask(
            Asker(asker.user, asker.channel, dedupe_key=f"rollback:{failed.id}:{which}"),
            kind=RequestKind(offer.kind),
            target=failed.target,
            goal=offer.goal,
            reason=f"way back from {failed.id}: {offer.description}",
        )

    def fleet_way_back(self, request_id: str, asker: Asker, *, way: FleetWayBack) -> Proposal:
        """A fleet's "Back to start" or "Retry" click: a new fleet request over those
        members, asked by the clicker. Raises ``RequestRefused`` when there is no such way."""
        ended = self.context.requests.get(request_id)
        offer = fleet_way_back(ended, way)
        return self.ask(
            Asker(asker.user, asker.channel, dedupe_key=f"fleetback:{ended.id}:{way.value}"),
            kind=offer.kind,
            target=ended.target,
            goal=offer.goal,
            reason=f"way back from {ended.id}: {offer.description}",
            members=offer.members,
            goals=offer.goals,
        )

    def request_plan(self, request_id: str) -> Plan:
        """The plan (with SQL) a request was made for: kept since it was asked, or made
        again and checked against the request's fingerprint. Raises ``RequestRefused``
        when the project or the database moved since."""
        request = self.context.requests.get(request_id)
        kept = self.plans.get(request.id)
        if kept is not None:
            return kept
        plan, fingerprint = plan_again(self.context, request)
        if fingerprint.digest != request.fingerprint.digest:
            raise RequestRefused(
                f"{request.id}'s plan is no longer what the project and the database give"
                " (something moved since it was asked): ask again to see the new one."
            )
        self.plans.keep(request.id, plan)
        return plan

    # --- deciding -------------------------------------------------------------

    def tick(self, request_id: str, *, user: str, selected: Collection[str]) -> str | None:
        """Record the checklist items newly ticked by the requester.

        The boxes come back as a whole set: items ticked before stay ticked
        (a confirmation is on the record and cannot be withdrawn). Raises
        ``NotTheRequesterError`` for anyone else (the message is drawn again,
        undoing their tick), ``RequestInputError`` for an unknown item.
        """
        request = self.context.requests.get(request_id)
        items = [one_of(ChecklistItem, value, what="checklist item") for value in selected]
        if user != request.requester:
            self.messages.refresh(request.id)
            raise NotTheRequesterError(
                f"Only {mention(request.requester)}, who asked for {request.id}, confirms its"
                " checklist: your tick was not recorded."
            )
        for item in items:
            if request.tick_of(item) is None:
                try:
                    request = self.context.requests.tick_checklist(
                        request.id, item=item, actor=user
                    )
                except AlreadyDoneError:
                    continue
        self.messages.refresh(request.id)
        if any(request.tick_of(item) and item.value not in selected for item in ChecklistItem):
            return "A confirmation is on the record and stays: cancel the request to withdraw."
        return None

    def acknowledge_live_use(self, request_id: str, *, user: str) -> str:
        """An approver's tick of "I have read the live-use evidence"; raises the service's
        refusals (the requester, not an approver, nothing to acknowledge, already done)."""
        try:
            request = self.context.requests.acknowledge_live_use(request_id, actor=user)
        finally:
            self.messages.refresh(request_id)  # a refused tick is drawn back unticked
        return f"You acknowledged the live use on {request.id}: you may approve it now."

    def approve(self, request_id: str, *, user: str, fingerprint_seen: str | None) -> str:
        """Add ``user``'s approval; once the policy is met, the run starts. Raises the
        service's refusals (self-approval, not an approver, checklist, plan changed…)."""
        result = self.context.requests.approve(
            parse_request_id(request_id), approver=user, fingerprint_seen=fingerprint_seen
        )
        request = result.request
        self.messages.refresh(request.id)
        if result.still_needed:
            return f"You approved {request.id}; it still needs {', '.join(result.still_needed)}."
        if request.schedule is not None:
            return f"You approved {request.id}: it runs at {request.schedule.slot.describe()}."
        note = self._start(request.id, request.target)
        return f"You approved {request.id}: {note or 'the run is starting'}."

    def reject(self, request_id: str, *, user: str, reason: str = "") -> str:
        """Turn the request down, saying why (on the message and in the audit log)."""
        request = self.context.requests.reject(request_id, actor=user, reason=reason)
        self.messages.refresh(request.id)
        return f"You rejected {request.id}."

    def cancel(self, request_id: str, *, user: str) -> str:
        """Cancel a request before it runs, or stop its run (requester or an approver)."""
        request = self.context.requests.get(request_id)
        if request.state is not RequestState.RUNNING:
            request = self.context.requests.cancel(request.id, actor=user)
            self.scheduling.forget(request.id)
            self.messages.refresh(request.id)
            return f"{request.id} is cancelled."
        if user != request.requester:
            policy = self.context.requests.policy(request.target)
            check_approver(
                policy,
                user=user,
                requester=None,
                request_id=None,
                lookup=self.groups,
                action="stop a run",
            )
        if not self.runs.cancel(request.id):
            raise RequestRefused(
                f"{request.id} is not running in this bot process; stop it where it runs."
            )
        what = (
            "no new member starts; members running stop at a revision boundary"
            if request.is_fleet
            else "the revision in flight is rolled back and the run is aborted"
        )
        self.messages.thread(request, f"🛑 {mention(user)} asked to stop the run: {what}.")
        return f"Stopping {request.id}: the revision in flight is rolled back."

    def freeze(self, target: str, *, user: str, reason: str) -> str:
        freeze = self.context.requests.freeze(target, actor=user, reason=reason)
        text, blocks = freeze_announcement(freeze)
        self.messages.tell_ops(text, blocks, key=f"freeze:{target}:{freeze.at.isoformat()}")
        return f"{target} is frozen: nothing runs on it until an approver unfreezes it."

    def unfreeze(self, target: str, *, user: str) -> str:
        lifted = self.context.requests.unfreeze(target, actor=user)
        text, blocks = freeze_announcement(lifted, lifted_by=user)
        self.messages.tell_ops(text, blocks, key=f"unfreeze:{target}:{lifted.at.isoformat()}")
        return f"{target} is unfrozen."

    # --- runs -------------------------------------------------------------------

    def recover(self, targets: Collection[str] | None = None) -> list[InterruptedRun]:
        """At start-up: runs that died with the last process, marked and announced once
        (``targets``: only those, e.g. a worker's)."""
        found = recover_interrupted(self.context, targets)
        for run in found:
            self.messages.announce_interrupted(run)
        self._announce_unannounced()
        return found

    def _announce_unannounced(self) -> None:
        """Runs that ended while their outcome was never queued (the bot died in the
        moment between the two): announced now, from the log, once."""
        since = self.context.clock() - UNANNOUNCED_LOOKBACK
        for request in self.context.requests.requests(states=RUN_OUTCOMES, limit=50):
            if request.run is None or request.closure is None or request.closure.at < since:
                continue
            if self.messages.outcome_owed(request.id):
                log.warning("%s ended without its outcome announced: announcing it", request.id)
                self.messages.announce_outcome(recorded_outcome(request, self.context.store))

    def shutdown(self) -> None:
        """Stop running runs (each is aborted, its revision in flight rolled back) and wait."""
        self.runs.shutdown(cancel_running=True)
        if self.executor is not self.runs:
            self.executor.shutdown(cancel_running=True)

    def submit_run(self, request_id: str, target: str, *, until: datetime | None) -> object:
        """Start an approved request's run now, to end by ``until`` (a scheduled slot's
        end); raises ``AlreadyRunningError`` while another run holds the target."""
        return self.runs.submit(request_id, target, until=until)

    def run_here(
        self, request_id: str, target: str, *, until: datetime | None, cancel: threading.Event
    ) -> None:
        """A worker's turn at a queued run: run it in this process to its outcome, which
        is announced (or its refusal said) as for a run started here. ``cancel`` set
        (the Stop button, from any process) aborts it."""
        self.executor.submit(request_id, target, until=until, cancel=cancel).result()

    def _start(self, request_id: str, target: str) -> str | None:
        """Hand the request to the run worker; why not, if it cannot start now."""
        if self.runs is not self.executor:  # queued: one run per target waits its turn there
            busy = self.context.requests.requests(
                target=target, states=[RequestState.RUNNING], limit=1
            )
            self.runs.submit(request_id, target)
            if busy and busy[0].id != request_id:
                note = f"{busy[0].id} is running on {target}; this run starts when it ends."
                self.messages.not_started(request_id, note)
                return note
            return None
        try:
            self.runs.submit(request_id, target)
        except AlreadyRunningError as busy:
            note = f"{busy} It starts when that run ends."
            self.messages.not_started(request_id, note)
            return note
        return None

    def _finished(self, outcome: RunOutcome) -> None:
        self.messages.announce_outcome(outcome)
        self._start_next(outcome.target)

    def _refused(self, request_id: str, refusal: MigrateBotError) -> None:
        self.messages.not_started(request_id, str(refusal))
        self.scheduling.run_refused(request_id, refusal)  # a scheduled run refused expires

    def _start_next(self, target: str) -> None:
        """One run per target: the oldest approved request waiting on it starts now."""
        approved = self.context.requests.requests(
            target=target, states=[RequestState.APPROVED], limit=50
        )
        waiting = [r for r in approved if r.schedule is None]  # scheduled ones wait for their slot
        if waiting:
            self._start(waiting[-1].id, target)
