"""Asking through Slack: a new request posted, its approvers told; a way back asked for by
a click; the plan a request was made for, for View SQL.

Each method is what one slash command or click does once it has been
acknowledged, on the listeners' work pool. Refusals are raised as
``MigrateBotError``s for the one error handler to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.flows.asker import Asker
from bot.flows.plan_cache import RecentPlans
from bot.flows.request_messages import RequestMessages
from commands.errors import MigrateBotError
from commands.migration.script.plan import Plan
from commands.pipeline import Proposal, RunContext, propose
from commands.pipeline.plans import plan_again
from commands.pipeline.ways_back import FleetWayBack, fleet_way_back, way_back
from commands.requests import Request, RequestRefused
from commands.requests.slots import Slot
from commands.state.vocabulary import RequestKind, RequestState


class Asking:
    """The Slack front's way to ask for requests; one per bot process."""

    def __init__(
        self, *, context: RunContext, messages: RequestMessages, plans: RecentPlans
    ) -> None:
        self.context = context
        self.messages = messages
        self.plans = plans

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
