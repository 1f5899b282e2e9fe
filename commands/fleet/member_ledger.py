"""One member's turn, seen by the single-target pipeline as a request of its own.

``Pipeline.run`` asks its context's request service for the request, starts
the run against the plan computed now, records each step and the outcome.
``MemberLedger`` answers those calls for one member of a fleet request: the
request it returns is the member's part (target ``FLEET.MEMBER``, its own goal
and fingerprint, the fleet's id, kind and requester), and what the pipeline
records becomes that member's events on the fleet request. So every member
goes through exactly the pipeline a single target does, run lock to verify.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from commands.config.fleet import member_target_name
from commands.fleet.set_plan import member_fingerprint, member_goal, member_plan
from commands.migration.script.fingerprint import PlanFingerprint
from commands.requests import Request, RequestService
from commands.requests.runs import StepRecord
from commands.state.vocabulary import RequestState, StepStatus


class MemberLedger(RequestService):
    """The request service, narrowed to one member of one running fleet request."""

    def __init__(self, service: RequestService, fleet: Request, member: str, *, wave: int) -> None:
        super().__init__(service.store, service.config, group_lookup=service.group_lookup)
        self.fleet = fleet
        self.member = member
        self.wave = wave
        self.approved = member_fingerprint(fleet.fingerprint, member)
        self.started = False
        self._request = replace(
            fleet,
            target=member_target_name(fleet.target, member),
            goal=member_goal(member_plan(fleet.fingerprint, member), fleet.goal),
            fingerprint=self.approved,
            state=RequestState.APPROVED,
            run=None,
            closure=None,
            members={},
            waves=(),
        )

    def get(self, request_id: str) -> Request:
        """The member's part of the fleet request (``request_id`` is the fleet's)."""
        self._check(request_id)
        return self._request

    def start_run(
        self,
        request_id: str,
        *,
        actor: str,
        fingerprint_now: PlanFingerprint,
        owner: Mapping[str, str] | None = None,
    ) -> Request:
        """The member starts, for its approved plan only: raises ``MemberDriftedError``
        (recorded as skipped) when its plan now differs, ``TargetFrozenError``."""
        self._check(request_id)
        self.start_member(
            request_id,
            member=self.member,
            actor=actor,
            approved=self.approved,
            now=fingerprint_now,
            wave=self.wave,
            owner=owner,
        )
        self.started = True
        self._request = replace(self._request, state=RequestState.RUNNING)
        return self._request

    def record_step(
        self,
        request_id: str,
        *,
        actor: str,
        step: str,
        status: StepStatus,
        revision: str | None = None,
        duration_s: float | None = None,
        detail: str = "",
    ) -> Request:
        return self.record_steps(
            request_id,
            actor=actor,
            steps=[StepRecord(step, status, revision, duration_s, detail)],
        )

    def record_steps(self, request_id: str, *, actor: str, steps: Sequence[StepRecord]) -> Request:
        self._check(request_id)
        self.record_member_steps(request_id, member=self.member, actor=actor, steps=steps)
        return self._request

    def refuse_run(self, request_id: str, *, actor: str, reason: str) -> Request | None:
        """A member that could not start ends its turn, not the fleet's request: the fleet
        run records it (skipped or failed, by why); nothing here."""
        self._check(request_id)
        return None

    def finish_run(
        self,
        request_id: str,
        *,
        actor: str,
        outcome: RequestState,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> Request:
        self._check(request_id)
        self.finish_member(
            request_id,
            member=self.member,
            actor=actor,
            outcome=outcome,
            reason=reason,
            details=details,
        )
        self._request = replace(self._request, state=outcome)
        return self._request

    def _check(self, request_id: str) -> None:
        assert request_id == self.fleet.id, f"{request_id} is not {self.fleet.id}"
