"""Asking: a new request recorded for its plan, and its pre-flight.

``create`` records ``request_created`` for the plan a fingerprint describes (a
retried Slack command finds the request it made the first time);
``create_break_glass`` records it approved at once for a terminal operator;
``record_preflight`` records each pre-flight result, which decides whether the
request may be approved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from audit.store import Transaction
from commands.migration.script.fingerprint import PlanFingerprint, describe_changes
from commands.requests import ledger
from commands.requests.errors import NothingToDoError, RequestInputError, WrongStateError
from commands.requests.inputs import (
    MAX_SUMMARY,
    clean_actor,
    clean_goal,
    clean_origin,
    clean_text,
    one_of,
    parse_request_id,
)
from commands.requests.model import Request, apply_event
from commands.requests.request_log import RequestLog
from commands.state.vocabulary import BEFORE_RUN_STATES, EventKind, RequestKind


class Asking:
    """Record new requests and their pre-flights."""

    def __init__(self, log: RequestLog) -> None:
        self.log = log

    def create(
        self,
        *,
        kind: RequestKind,
        target: str,
        requester: str,
        fingerprint: PlanFingerprint,
        goal: str | None = None,
        origin: Mapping[str, str] | None = None,
        reason: str = "",
        dedupe_key: str | None = None,
    ) -> Request:
        """Record a new request (id ``M-<n>``) for the plan ``fingerprint`` describes.

        ``dedupe_key`` (a Slack trigger or message ts) makes a retried command
        return the request it created the first time. Raises
        ``RequestInputError``, ``UnknownTargetError`` or ``NothingToDoError``.
        """
        fields = self._new_request_fields(
            kind=kind,
            target=target,
            requester=requester,
            fingerprint=fingerprint,
            goal=goal,
            reason=reason,
        )
        fields["origin"] = clean_origin(origin)
        if dedupe_key is not None:
            fields["dedupe_key"] = clean_text(dedupe_key, what="de-duplication key", limit=200)
        with self.log.transaction() as tx:
            if dedupe_key is not None:
                earlier = ledger.created_with_key(tx, target, fields["dedupe_key"])
                if earlier is not None:
                    return earlier
            return self._append_created(tx, requester, fields)

    def create_break_glass(
        self,
        *,
        kind: RequestKind,
        target: str,
        operator: str,
        fingerprint: PlanFingerprint,
        goal: str | None = None,
        reason: str = "",
    ) -> Request:
        """A request created and approved at once by a terminal operator (Slack is down).

        Marked break-glass in both events; the run still refuses a frozen
        target or a changed plan. Raises as ``create`` does.
        """
        fields = self._new_request_fields(
            kind=kind,
            target=target,
            requester=operator,
            fingerprint=fingerprint,
            goal=goal,
            reason=reason,
        )
        fields["break_glass"] = True
        with self.log.transaction() as tx:
            request = self._append_created(tx, operator, fields)
            event = tx.append(
                kind=EventKind.BREAK_GLASS_APPROVAL,
                actor=request.requester,
                request_id=request.id,
                target=target,
                data={
                    "fingerprint": fingerprint.digest,
                    "complete": True,
                    "reason": fields["reason"],
                },
            )
            return apply_event(request, event)

    def _new_request_fields(
        self,
        *,
        kind: RequestKind,
        target: str,
        requester: str,
        fingerprint: PlanFingerprint,
        goal: str | None,
        reason: str,
    ) -> dict[str, Any]:
        kind = one_of(RequestKind, kind, what="kind of request")
        self.log.config.target(target)
        clean_actor(requester)
        if fingerprint.target != target or fingerprint.action != kind.value:
            raise RequestInputError(
                f"the plan is for {fingerprint.action} on {fingerprint.target},"
                f" not {kind.value} on {target}"
            )
        if kind is not RequestKind.RESTORE and not fingerprint.revisions:
            where = ", ".join(fingerprint.from_revisions) or "base"
            raise NothingToDoError(target, where)
        return {
            "kind": kind.value,
            "goal": clean_goal(kind, goal),
            "reason": clean_text(reason, what="reason"),
            "fingerprint": fingerprint.to_json(),
        }

    def _append_created(self, tx: Transaction, requester: str, fields: dict[str, Any]) -> Request:
        request_id = ledger.next_request_id(tx)
        tx.append(
            kind=EventKind.REQUEST_CREATED,
            actor=clean_actor(requester),
            request_id=request_id,
            target=fields["fingerprint"]["target"],
            data=fields,
        )
        return ledger.load(tx, request_id)

    def record_preflight(
        self,
        request_id: str,
        *,
        actor: str,
        passed: bool,
        summary: str,
        checks: Sequence[Mapping[str, Any]] = (),
        fingerprint: PlanFingerprint | None = None,
    ) -> Request:
        """Record a pre-flight result (and the plan it checked, if it changed).

        Passed: requested → awaiting_approval. Failed: back to requested,
        which blocks approval; on an approved request a failure blocks the run.
        A changed plan voids earlier approvals. Raises ``WrongStateError``.
        """
        data: dict[str, Any] = {
            "passed": bool(passed),
            "summary": clean_text(summary, what="summary", limit=MAX_SUMMARY),
            "checks": [dict(c) for c in checks],
        }
        with self.log.transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state not in BEFORE_RUN_STATES:
                raise WrongStateError(request, "checked again")
            if fingerprint is not None and fingerprint.digest != request.fingerprint.digest:
                data["fingerprint"] = fingerprint.to_json()
                data["changes"] = describe_changes(request.fingerprint, fingerprint)
            return self.log.append(tx, request, EventKind.PREFLIGHT_RECORDED, actor, data)
