"""What a request would do to its target, as a plan and its fingerprint.

Computed twice in a request's life: when it is proposed (the approver sees
that plan with its SQL, the approval binds to its fingerprint) and again when
the run starts, from an inspect alone (any difference refuses the run). Both
go through ``plan_request``, for one database. ``plan_again`` makes a whole
request's plan again, with its SQL, for a front that lost it (View SQL after
a restart): one database's, or a fleet's set plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.store import EventStore
from commands.backup.listing import find_backup
from commands.backup.records import BackupRecord
from commands.fleet.planning import FleetAsk, plan_fleet
from commands.fleet.set_plan import member_goal
from commands.migration.planning import plan_in_session
from commands.migration.runtime.runner import AlembicRunner, AlembicSession, ProjectState
from commands.migration.script.fingerprint import (
    PlanFingerprint,
    fingerprint_plan,
    fingerprint_restore,
)
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction
from commands.pipeline.context import RunContext
from commands.requests import Request
from commands.state.vocabulary import RequestKind
from commands.targets import TargetHandle


@dataclass(frozen=True)
class RequestPlan:
    """The plan (revisions to run; none for a restore), its fingerprint and the backup."""

    plan: Plan
    fingerprint: PlanFingerprint
    backup: BackupRecord | None = None
    state: ProjectState | None = None  # the graph and version table it was planned from


def plan_request(
    handle: TargetHandle,
    session: AlembicSession,
    *,
    kind: RequestKind,
    goal: str,
    store: EventStore,
    with_sql: bool = True,
) -> RequestPlan:
    """The plan of an upgrade/downgrade to ``goal``, or of restoring backup ``goal``.

    Raises ``RevisionError`` (unknown or ambiguous revision, several heads) or
    ``UnknownBackupError``.
    """
    if kind is RequestKind.RESTORE:
        record = find_backup(store, handle.name, goal)
        current = session.current()
        plan = Plan(
            target=handle.name,
            direction=Direction.DOWN,
            current=current,
            destination=record.revisions,
            revisions=(),
        )
        fingerprint = fingerprint_restore(
            target=handle.name,
            backup=record.id,
            backup_sha256=record.sha256,
            from_revisions=current,
            to_revisions=record.revisions,
        )
        return RequestPlan(plan, fingerprint, record)
    direction = Direction.UP if kind is RequestKind.UPGRADE else Direction.DOWN
    state = session.inspect()
    plan = plan_in_session(
        session, handle.name, direction=direction, to=goal, with_sql=with_sql, state=state
    )
    return RequestPlan(plan, fingerprint_plan(plan), state=state)


def plan_again(context: RunContext, request: Request) -> tuple[Plan, PlanFingerprint]:
    """``request``'s plan, with its SQL, made again from the project and its databases as
    they are now (its fingerprint equals the request's while nothing moved). Raises
    ``RevisionError``, ``UnknownBackupError``, ``ProposalError``…"""
    if request.is_fleet:  # the set plan, over the members it was made for
        members = request.fingerprint.members
        ask = FleetAsk(
            request.kind,
            request.goal,
            members=[m.name for m in members],
            goals={m.name: member_goal(m, request.goal) for m in members},
        )
        planned = plan_fleet(
            context.config,
            target=request.target,
            ask=ask,
            open_target=context.open_target,
            clock=context.clock,
            checks=False,
            sql=True,
        )
        return planned.plan, planned.fingerprint
    handle = context.target(request.target)
    with AlembicRunner.for_target(handle).session() as session:
        made = plan_request(
            handle, session, kind=request.kind, goal=request.goal, store=context.store
        )
    return made.plan, made.fingerprint
