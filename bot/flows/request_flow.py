"""A request's way through Slack: asked, ticked, approved or turned down, run, rolled back.

Each method is what one slash command or click does once it has been
acknowledged, on the listeners' work pool: a call into the request service
(whose transitions are conditional writes, so a double click or a retry loses
politely with ``AlreadyDoneError``), then the message drawn again. Refusals
are raised as ``MigrateBotError``s for the one error handler to show; the
sentences returned are the clicker's private confirmation.

``RequestFlow`` holds the parts it decides for: ``asking`` (new requests and
ways back), ``runs`` (an approved request's run), ``scheduling`` (slots and
the scheduler) and ``changes`` (changes across deploys and their backfills),
each built on its own by the runtime and handed in.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.flows.asking import Asking
from bot.flows.change_flow import ChangeFlow
from bot.flows.request_messages import RequestMessages
from bot.flows.run_flow import RunFlow
from bot.flows.schedule_flow import ScheduleFlow
from bot.views.announcements import freeze_announcement
from bot.views.people import mention
from commands.pipeline import RunContext
from commands.requests import AlreadyDoneError, GroupLookup, RequestRefused
from commands.requests.inputs import one_of, parse_request_id
from commands.requests.policy import check_approver
from commands.state.people import Directory
from commands.state.vocabulary import ChecklistItem, RequestState


class NotTheRequesterError(RequestRefused):
    """Someone other than the requester ticked the checklist: it counts only from them."""


class RequestFlow:
    """The Slack front's decisions on requests; one per bot process."""

    def __init__(
        self,
        *,
        context: RunContext,
        messages: RequestMessages,
        groups: GroupLookup,
        asking: Asking,
        runs: RunFlow,
        scheduling: ScheduleFlow,
        people: Directory | None = None,
        changes: ChangeFlow | None = None,
    ) -> None:
        self.context = context
        self.messages = messages
        self.groups = groups
        self.asking = asking
        self.runs = runs
        self.scheduling = scheduling
        self.people = people  # who is who, for the terminal (bot.middleware.names)
        self.changes = changes  # changes across deploys and backfills, where the bot runs them

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
        note = self.runs.start(request.id, request.target)
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
        if not self.runs.stop(request.id):
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
