"""The ways back from a run that failed, was aborted or was interrupted, or whose watch saw
the application regress, read from the log.

The pipeline offers them with a run's outcome (``RunOutcome.rollback``); a
front that draws a request again later (a button clicked hours after, a
restart) needs the same offers from what was recorded: where the run
started, what the database held when it ended, and the backup it took.
Each way back is a new request that needs its own approval.

A fleet's run offers two, member by member, each a new fleet request over some
of the members: take the members that succeeded back to the revisions they
started from (after a run that did not succeed), and retry the members that
did not succeed (failed, aborted, interrupted, skipped because they moved, or
never started) toward the same goal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from audit.store import EventStore
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction
from commands.pipeline.outcomes import recorded_outcome
from commands.pipeline.progress import RollbackOffer
from commands.pipeline.rollback import offers_from
from commands.requests import Request, RequestRefused
from commands.state.vocabulary import EventKind, MemberState, RequestKind, RequestState

ENDED_BADLY = (RequestState.FAILED, RequestState.ABORTED, RequestState.INTERRUPTED)


def ways_back(request: Request, store: EventStore) -> tuple[WayBack, ...]:
    """Back to the starting revision (if the database moved), and the run's backup (if any),
    after a run that ended badly or whose watch saw a regression: the pipeline's own
    offers, fed with what the log recorded of the run. A fleet's, member by member
    (``fleet_ways_back``)."""
    if request.is_fleet:
        return fleet_ways_back(request)
    if request.closure is None:
        return ()
    if request.state not in ENDED_BADLY and not watch_regressed(request, store):
        return ()
    recorded = recorded_outcome(request, store)
    if recorded.database_revisions is None and request.state is RequestState.SUCCEEDED:
        recorded = replace(recorded, database_revisions=request.to_revisions)
    up = request.kind is not RequestKind.DOWNGRADE
    plan = Plan(
        target=request.target,
        direction=Direction.UP if up else Direction.DOWN,
        current=request.from_revisions,
        destination=request.to_revisions,
        revisions=(),
    )
    return offers_from(recorded, plan)


def watch_regressed(request: Request, store: EventStore) -> bool:
    """Whether the watch after ``request``'s successful run saw a regression."""
    if request.state is not RequestState.SUCCEEDED:
        return False
    kinds = [EventKind.WATCH_REGRESSED.value, EventKind.WATCH_FINISHED.value]
    events = store.events(request_id=request.id, kinds=kinds)
    return any(e.kind == EventKind.WATCH_REGRESSED or e.data.get("regressed") for e in events)


def way_back(request: Request, store: EventStore, *, restore: bool) -> RollbackOffer:
    """The offer a "Roll back" (``restore=False``) or "Restore backup" button stands for.

    Raises ``RequestRefused`` when ``request`` has no such way back (it did not
    fail, the database did not move, no backup was taken or it was deleted).
    """
    for offer in ways_back(request, store):
        if (
            isinstance(offer, RollbackOffer)
            and (offer.kind == RequestKind.RESTORE.value) == restore
        ):
            return offer
    what = "backup to restore" if restore else "revision to go back to"
    raise RequestRefused(f"{request.id} has no {what}: its run {request.state.value}.")


ENDED = (
    RequestState.SUCCEEDED,
    RequestState.FAILED,
    RequestState.ABORTED,
    RequestState.INTERRUPTED,
)


class FleetWayBack(StrEnum):
    BACK_TO_START = "back_to_start"  # the members that succeeded, to where they started
    RETRY = "retry"  # the members that did not succeed, to the same goal


@dataclass(frozen=True)
class FleetOffer:
    """A way back: a new request of ``kind`` over ``members``, each to its goal."""

    way: FleetWayBack
    kind: RequestKind
    members: tuple[str, ...]
    goal: str
    goals: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


def fleet_ways_back(request: Request) -> tuple[FleetOffer, ...]:
    """The ways back ``request``'s run offers (none before it ended, none when every
    member succeeded)."""
    if request.state not in ENDED:  # a request without members has none of these
        return ()
    members = request.members.values()
    succeeded = tuple(m.name for m in members if m.state is MemberState.SUCCEEDED)
    others = tuple(m.name for m in members if m.state is not MemberState.SUCCEEDED)
    offers = []
    if succeeded and others and request.state is not RequestState.SUCCEEDED:
        back = RequestKind.DOWNGRADE if request.kind is RequestKind.UPGRADE else RequestKind.UPGRADE
        goals = {
            m.name: m.from_revisions[0] if m.from_revisions else "base"
            for m in members
            if m.state is MemberState.SUCCEEDED and len(m.from_revisions) <= 1
        }
        offers.append(
            FleetOffer(
                FleetWayBack.BACK_TO_START,
                back,
                tuple(goals),
                f"{request.id}:start",
                goals,
                f"{back.value} the {len(goals)} member(s) that succeeded back to the revision"
                f" each started from in {request.id}",
            )
        )
    if others:
        offers.append(
            FleetOffer(
                FleetWayBack.RETRY,
                request.kind,
                others,
                request.goal,
                description=f"retry the {len(others)} member(s) that did not succeed"
                f" ({request.kind.value} to {request.goal})",
            )
        )
    return tuple(offers)


def fleet_way_back(request: Request, way: FleetWayBack) -> FleetOffer:
    """The offer a way-back button stands for; raises ``RequestRefused`` when there is none."""
    for offer in fleet_ways_back(request):
        if offer.way is way:
            return offer
    raise RequestRefused(f"{request.id} has no such way back: its run {request.state.value}.")


WayBack = RollbackOffer | FleetOffer
"""A way back a request's message offers: a single target's, or a fleet's."""
