"""The approval policy, as pure functions over a target's config and a request's approvals.

Rules: the requester never approves; only listed approvers count (user ids,
or members of listed user groups, found through a pluggable lookup the Slack
front backs with ``usergroups.users.list``); N distinct approvals per target
and, optionally, a quorum per group; an approval counts only for the plan it
was given to and only until it expires. A scheduled request's approval is for
its start only, and ``approval_ttl`` counts from that start. One approver may
count towards several groups' quorum (as GitLab's approval rules do): set
``approvals`` to the number of *people* you want.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from commands.config.targets_file import USER_GROUP, TargetConfig
from commands.requests.errors import ChecklistIncompleteError, NotAnApproverError, SelfApprovalError
from commands.requests.model import Approval, Request
from commands.requests.wording import plural
from commands.state.vocabulary import ChecklistItem
from commands.units import format_duration

GroupLookup = Callable[[str], frozenset[str]]
"""User ids in a user group (``@handle`` or ``S…`` id, as written in the config)."""


def no_group_members(group: str) -> frozenset[str]:
    """The lookup when no Slack is at hand (the CLI): groups have no known members."""
    return frozenset()


@dataclass(frozen=True)
class ApprovalPolicy:
    """One target's approval rules, read from its config."""

    target: str
    approvals: int
    approvers: tuple[str, ...]
    quorum: Mapping[str, int]
    ttl_seconds: float
    checklist: tuple[ChecklistItem, ...]

    @classmethod
    def for_target(cls, target: TargetConfig) -> ApprovalPolicy:
        return cls(
            target=target.name,
            approvals=target.approvals,
            approvers=target.approvers,
            quorum=dict(target.quorum),
            ttl_seconds=target.approval_ttl,
            checklist=target.checklist,
        )

    @property
    def ttl(self) -> timedelta:
        return timedelta(seconds=self.ttl_seconds)

    @property
    def ttl_text(self) -> str:
        return format_duration(self.ttl_seconds)

    @property
    def users(self) -> frozenset[str]:
        return frozenset(a for a in self.approvers if not USER_GROUP.match(a))

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(a for a in self.approvers if USER_GROUP.match(a))


def approver_groups(policy: ApprovalPolicy, user: str, lookup: GroupLookup) -> tuple[str, ...]:
    """The listed groups ``user`` is a member of (asks ``lookup`` once per group)."""
    return tuple(group for group in policy.groups if user in lookup(group))


def check_approver(
    policy: ApprovalPolicy,
    *,
    user: str,
    requester: str | None,
    request_id: str | None,
    lookup: GroupLookup,
    action: str = "approve",
) -> tuple[str, ...]:
    """The groups ``user`` acts for; raises ``SelfApprovalError`` for the requester and
    ``NotAnApproverError`` for anyone neither listed nor in a listed group."""
    if requester is not None and user == requester and request_id is not None:
        raise SelfApprovalError(request_id, action)
    groups = approver_groups(policy, user, lookup)
    if user not in policy.users and not groups:
        raise NotAnApproverError(user, policy.target, policy.approvers, action)
    return groups


def check_checklist(policy: ApprovalPolicy, request: Request) -> None:
    """Raises ``ChecklistIncompleteError`` naming each required item nobody confirmed."""
    missing = [item.label for item in policy.checklist if request.tick_of(item) is None]
    if missing:
        raise ChecklistIncompleteError(request.id, missing)


@dataclass(frozen=True)
class Tally:
    """The approvals that count now, and what is still needed, in words."""

    counted: tuple[Approval, ...]
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing


def counts(policy: ApprovalPolicy, approval: Approval, *, fingerprint: str, now: datetime) -> bool:
    """Whether ``approval`` still counts: same plan, not expired, approver still listed."""
    if approval.fingerprint != fingerprint or now >= approval.counts_from + policy.ttl:
        return False
    if approval.break_glass:
        return True
    return approval.approver in policy.users or any(g in policy.groups for g in approval.groups)


def tally(
    policy: ApprovalPolicy, approvals: Iterable[Approval], *, fingerprint: str, now: datetime
) -> Tally:
    """Count distinct approvers' valid approvals against N and the group quorum.

    A valid break-glass approval satisfies the policy on its own: it is the
    operator's recorded decision to bypass it.
    """
    counted: dict[str, Approval] = {}
    for approval in approvals:
        if counts(policy, approval, fingerprint=fingerprint, now=now):
            counted.setdefault(approval.approver, approval)
    valid = tuple(counted.values())
    if any(a.break_glass for a in valid):
        return Tally(valid, ())
    missing = []
    if len(valid) < policy.approvals:
        missing.append(plural(policy.approvals - len(valid), "more approval"))
    for group, needed in policy.quorum.items():
        have = sum(1 for a in valid if group in a.groups)
        if have < needed:
            missing.append(f"{needed - have} more from {group}")
    return Tally(valid, tuple(missing))


def first_expiry(policy: ApprovalPolicy, approvals: Iterable[Approval]) -> datetime | None:
    """When the earliest of ``approvals`` stops counting."""
    times = [a.counts_from + policy.ttl for a in approvals]
    return min(times) if times else None
