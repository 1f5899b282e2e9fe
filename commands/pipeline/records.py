"""Where one database's run is written: the request's own run, or a fleet member's turn.

``run_database`` runs the runbook's steps on one database and writes what
happens through a ``RunRecord``. A single target's run is the request's own
(``run_started``, ``run_step``…, ``run_finished``); a fleet member's is its
turn inside the fleet's run (``member_started``, ``member_step``…,
``member_finished``, on the fleet's request, on target ``FLEET.MEMBER``).
Each record also says what the run sees of the request: for a member, its
part (its target, goal and fingerprint, the fleet's id, kind and requester).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from commands.config.fleet import member_target_name
from commands.fleet.set_plan import member_fingerprint, member_goal, member_plan
from commands.migration.script.fingerprint import PlanFingerprint
from commands.requests import Request, RequestService
from commands.requests.run_events import StepRecord
from commands.state.vocabulary import RequestState


class RunRecord(Protocol):
    """How a database's run is started, followed and ended in the audit log."""

    @property
    def request(self) -> Request:
        """The request as this database's run sees it."""

    def start(
        self, *, actor: str, fingerprint_now: PlanFingerprint, owner: Mapping[str, str]
    ) -> Request:
        """The run starts for the plan computed now; raises what the service refuses."""

    def steps(self, *, actor: str, steps: Sequence[StepRecord]) -> None:
        """Steps of the running database, in one write."""

    def refuse(self, *, actor: str, reason: str) -> None:
        """The run could not start (its lock is held, the plan cannot be made…)."""

    def finish(
        self, *, actor: str, outcome: RequestState, reason: str, details: Mapping[str, Any]
    ) -> None:
        """The run ended: succeeded, failed or aborted."""


class RequestRecord:
    """A single target's run: the request's own events."""

    def __init__(self, requests: RequestService, request: Request) -> None:
        self.requests = requests
        self.request = request

    def start(
        self, *, actor: str, fingerprint_now: PlanFingerprint, owner: Mapping[str, str]
    ) -> Request:
        self.request = self.requests.start_run(
            self.request.id, actor=actor, fingerprint_now=fingerprint_now, owner=owner
        )
        return self.request

    def steps(self, *, actor: str, steps: Sequence[StepRecord]) -> None:
        self.requests.record_steps(self.request.id, actor=actor, steps=steps)

    def refuse(self, *, actor: str, reason: str) -> None:
        self.requests.refuse_run(self.request.id, actor=actor, reason=reason)

    def finish(
        self, *, actor: str, outcome: RequestState, reason: str, details: Mapping[str, Any]
    ) -> None:
        self.requests.finish_run(
            self.request.id, actor=actor, outcome=outcome, reason=reason, details=details
        )


class MemberRecord:
    """One member's turn in a running fleet request: member events on the fleet's request.

    A member that cannot start ends its turn, not the fleet's request: its
    refusal records nothing here (the fleet's run records it skipped or failed,
    by why); ``started`` says whether the member's own end was recorded by its run.
    """

    def __init__(self, requests: RequestService, fleet: Request, member: str, *, wave: int) -> None:
        self.requests = requests
        self.fleet = fleet
        self.member = member
        self.wave = wave
        self.approved = member_fingerprint(fleet.fingerprint, member)
        self.started = False
        self.request = replace(
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

    def start(
        self, *, actor: str, fingerprint_now: PlanFingerprint, owner: Mapping[str, str]
    ) -> Request:
        """The member starts, for its approved plan only: raises ``MemberDriftedError``
        (recorded as skipped) when its plan now differs, ``TargetFrozenError``."""
        self.requests.start_member(
            self.fleet.id,
            member=self.member,
            actor=actor,
            approved=self.approved,
            now=fingerprint_now,
            wave=self.wave,
            owner=owner,
        )
        self.started = True
        self.request = replace(self.request, state=RequestState.RUNNING)
        return self.request

    def steps(self, *, actor: str, steps: Sequence[StepRecord]) -> None:
        self.requests.record_member_steps(
            self.fleet.id, member=self.member, actor=actor, steps=steps
        )

    def refuse(self, *, actor: str, reason: str) -> None:
        """Nothing: the fleet's run records the member's turn."""

    def finish(
        self, *, actor: str, outcome: RequestState, reason: str, details: Mapping[str, Any]
    ) -> None:
        self.requests.finish_member(
            self.fleet.id,
            member=self.member,
            actor=actor,
            outcome=outcome,
            reason=reason,
            details=details,
        )
        self.request = replace(self.request, state=outcome)
