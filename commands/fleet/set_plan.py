"""A fleet's set plan: every member's own plan, the set's fingerprint, and its groups. Pure.

The approval binds to the set: the members, each one's starting revision and
where it goes, and the hash of every revision file any member runs. When a
member's turn comes, its plan is made again and compared with
``member_fingerprint``, its part of the set: the same check a single target's
run makes, member by member.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from commands.config.fleet import member_target_name
from commands.migration.script.fingerprint import (
    MemberPlan,
    PlanFingerprint,
    RevisionFile,
    file_sha256,
)
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction, Revision


@dataclass(frozen=True)
class Group:
    """Members at the same revision, going the same way: shown once to the approver."""

    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    revisions: tuple[str, ...]
    members: tuple[str, ...]


def set_fingerprint(
    target: str, direction: Direction, plans: Sequence[tuple[str, Plan]]
) -> PlanFingerprint:
    """The fingerprint of a fleet request: ``plans`` are (member, its plan), in run order.

    Each distinct revision file is hashed once, now. The set's ``from`` is empty
    (members start from their own revisions); its ``to`` is the destination the
    members share, or empty when they do not (a way back to each one's start).
    """
    members = tuple(
        MemberPlan(name, plan.current, plan.destination, tuple(r.id for r in plan.revisions))
        for name, plan in plans
    )
    destinations = {m.to_revisions for m in members}
    return PlanFingerprint(
        target=target,
        action="upgrade" if direction is Direction.UP else "downgrade",
        from_revisions=(),
        to_revisions=next(iter(destinations)) if len(destinations) == 1 else (),
        revisions=tuple(RevisionFile(r.id, file_sha256(r.path)) for r in distinct_revisions(plans)),
        members=members,
    )


def distinct_revisions(plans: Iterable[tuple[str, Plan]]) -> tuple[Revision, ...]:
    """Every revision any plan runs, once, longest plans first (so in the graph's order)."""
    ordered = sorted((plan for _, plan in plans), key=lambda p: -len(p.revisions))
    seen: dict[str, Revision] = {}
    for plan in ordered:
        for revision in plan.revisions:
            seen.setdefault(revision.id, revision)
    return tuple(seen.values())


def member_fingerprint(fingerprint: PlanFingerprint, member: str) -> PlanFingerprint:
    """``member``'s part of a set plan, as its own plan's fingerprint would read."""
    plan = member_plan(fingerprint, member)
    hashes = {r.id: r for r in fingerprint.revisions}
    return PlanFingerprint(
        target=member_target_name(fingerprint.target, member),
        action=fingerprint.action,
        from_revisions=plan.from_revisions,
        to_revisions=plan.to_revisions,
        revisions=tuple(hashes[r] for r in plan.revisions),
    )


def member_plan(fingerprint: PlanFingerprint, member: str) -> MemberPlan:
    """``member``'s entry in the set; raises ``KeyError`` for a member not in it."""
    for plan in fingerprint.members:
        if plan.name == member:
            return plan
    raise KeyError(member)


def member_goal(plan: MemberPlan, fallback: str) -> str:
    """Where ``plan`` goes, as a goal the planner takes: its one destination revision,
    ``base``, or ``fallback`` (the request's goal) when it has several heads."""
    if not plan.to_revisions:
        return "base"
    return plan.to_revisions[0] if len(plan.to_revisions) == 1 else fallback


def groups(fingerprint: PlanFingerprint) -> list[Group]:
    """The members grouped by where they start and go, in the order first met."""
    found: dict[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for plan in fingerprint.members:
        key = (plan.from_revisions, plan.to_revisions, plan.revisions)
        found.setdefault(key, []).append(plan.name)
    return [Group(*key, members=tuple(names)) for key, names in found.items()]


def members_to_run(fingerprint: PlanFingerprint) -> tuple[str, ...]:
    """The members with revisions to run, in order (the others are already there)."""
    return tuple(m.name for m in fingerprint.members if m.revisions)
