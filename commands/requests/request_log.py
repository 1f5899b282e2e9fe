"""What every part of the request service works on: the audit log (and its write
transaction), the config, the group lookup, the approver check that records its
refusals, and the append of one request's event.

``RequestService`` hands one ``RequestLog`` to each of its parts (asking,
decisions, runs, member turns, schedules, freezes): they share it, they do
not inherit from it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from audit.store import EventStore, Transaction
from commands.config.targets_file import Config
from commands.requests.errors import RequestRefused
from commands.requests.inputs import clean_actor
from commands.requests.model import Request, apply_event
from commands.requests.policy import (
    ApprovalPolicy,
    GroupLookup,
    Tally,
    check_approver,
    no_group_members,
    tally,
)
from commands.state.audit_reading import audit_log_errors
from commands.state.vocabulary import EventKind


class RequestLog:
    """The store and config the request service works on. The clock is the store's."""

    def __init__(
        self, store: EventStore, config: Config, *, group_lookup: GroupLookup = no_group_members
    ) -> None:
        self.store = store
        self.config = config
        self.group_lookup = group_lookup

    def now(self) -> datetime:
        return self.store.clock()

    def policy(self, target: str) -> ApprovalPolicy:
        """The target's approval rules; raises ``UnknownTargetError``."""
        return ApprovalPolicy.for_target(self.config.target(target))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """The store's write transaction; raises ``AuditLogUnavailableError`` when the
        log is locked too long or has been tampered with."""
        with audit_log_errors(), self.store.transaction() as tx:
            yield tx

    def tally(self, request: Request) -> Tally:
        """The approvals that count for ``request`` now, and what it still needs."""
        return tally(
            self.policy(request.target),
            request.current_approvals,
            fingerprint=request.fingerprint.digest,
            now=self.now(),
        )

    def check_approver(
        self,
        policy: ApprovalPolicy,
        *,
        user: str,
        action: str,
        request: Request | None = None,
        requester: str | None = None,
    ) -> tuple[str, ...]:
        """``check_approver``, recording a refusal for the auditor before raising it."""
        try:
            return check_approver(
                policy,
                user=user,
                requester=requester,
                request_id=request.id if request else None,
                lookup=self.group_lookup,
                action=action,
            )
        except RequestRefused as refusal:
            with self.transaction() as tx:
                tx.append(
                    kind=EventKind.ACTION_REFUSED,
                    actor=user,
                    request_id=request.id if request else None,
                    target=policy.target,
                    data={"action": action, "reason": str(refusal)},
                )
            raise

    def append(
        self,
        tx: Transaction,
        request: Request,
        kind: EventKind,
        actor: str,
        data: Mapping[str, Any],
    ) -> Request:
        """Append one of ``request``'s events; returns the request after it."""
        event = tx.append(
            kind=kind,
            actor=clean_actor(actor),
            request_id=request.id,
            target=request.target,
            data=data,
        )
        return apply_event(request, event)
