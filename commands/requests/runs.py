"""Runs and freezes: the part of the request service the pipeline drives.

``start_run`` is the gate: approved → running at most once, and only if the
target is not frozen or busy, the latest pre-flight passed, the plan is still
the one approved and the approvals still count. A refusal ends the request
``refused`` with its reason (a lapsed approval: ``expired``), and so does
anything that stops the pipeline before the run starts (``refuse_run``): no
request stays approved with nothing left to run it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.store import Transaction
from commands.migration.script.fingerprint import PlanFingerprint, describe_changes
from commands.requests import ledger
from commands.requests.base import ServiceBase
from commands.requests.errors import (
    AlreadyDoneError,
    ApprovalExpiredError,
    PlanChangedError,
    PreflightFailedError,
    RequestInputError,
    RequestRefused,
    TargetBusyError,
    TargetFrozenError,
    WrongStateError,
)
from commands.requests.inputs import MAX_SUMMARY, clean_actor, clean_text, one_of, parse_request_id
from commands.requests.model import Freeze, Request
from commands.requests.policy import first_expiry
from commands.requests.wording import format_time, quoted, state_phrase
from commands.state.vocabulary import RUN_OUTCOMES, EventKind, RequestState, StepStatus

ONE_RUN_HINT = "An approval is good for one run: ask again to run it again."


@dataclass(frozen=True)
class StepRecord:
    """One ``run_step`` event to record: a step's name, status and what it says."""

    step: str
    status: StepStatus
    revision: str | None = None
    duration_s: float | None = None
    detail: str = ""

    def event_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "step": clean_text(self.step, what="step name", limit=100, required=True),
            "status": one_of(StepStatus, self.status, what="step status"),
            "detail": clean_text(self.detail, what="detail", limit=MAX_SUMMARY),
        }
        if self.revision is not None:
            data["revision"] = self.revision
        if self.duration_s is not None:
            data["duration_s"] = round(float(self.duration_s), 4)
        return data


class RunsAndFreezes(ServiceBase):
    """Start, follow and finish runs; freeze and unfreeze targets."""

    def start_run(
        self,
        request_id: str,
        *,
        actor: str,
        fingerprint_now: PlanFingerprint,
        owner: Mapping[str, str] | None = None,
    ) -> Request:
        """approved → running, exactly once, for the plan as computed now.

        ``owner`` (host, pid…) is recorded to tell whose run it is after a
        crash. Raises ``AlreadyDoneError`` (it is running: a lost race),
        ``WrongStateError`` (not approved, or it already ran),
        ``TargetFrozenError``, ``TargetBusyError``, ``PreflightFailedError``,
        ``PlanChangedError`` (saying what changed; the request goes back to
        requested) or ``ApprovalExpiredError`` (the request is expired).
        """
        request_id = parse_request_id(request_id)
        actor = clean_actor(actor)
        with self._transaction() as tx:
            request = ledger.load(tx, request_id)
            if request.state is RequestState.RUNNING:
                raise AlreadyDoneError(f"{request.id} {state_phrase(request)}.", request)
            if request.state is not RequestState.APPROVED:
                raise WrongStateError(request, "run", ONE_RUN_HINT if request.run else "")
            refusal = self._refuse_run(tx, request, actor, fingerprint_now)
            if refusal is None:
                counted = self.tally(request).counted
                data = {
                    "fingerprint": request.fingerprint.digest,
                    "approvals": [a.approver for a in counted],
                    "owner": dict(owner or {}),
                }
                request = self._append(tx, request, EventKind.RUN_STARTED, actor, data)
        if refusal is not None:
            raise refusal
        return request

    def _refuse_run(
        self, tx: Transaction, request: Request, actor: str, fingerprint_now: PlanFingerprint
    ) -> RequestRefused | None:
        """Why ``request`` may not run now (its event already appended), or ``None``."""
        refusal = self._run_blocker(tx, request)
        if refusal is not None:
            self._append(tx, request, EventKind.RUN_REFUSED, actor, {"reason": str(refusal)})
            return refusal
        changes = describe_changes(request.fingerprint, fingerprint_now)
        if changes:
            refusal = PlanChangedError(request.id, changes, when="since it was approved")
            data = {
                "reason": str(refusal),
                "fingerprint": fingerprint_now.to_json(),
                "changes": changes,
            }
            self._append(tx, request, EventKind.RUN_REFUSED, actor, data)
            return refusal
        result = self.tally(request)
        if result.complete:
            return None
        policy = self.policy(request.target)
        now = self.now()
        lapsed = [a for a in request.current_approvals if now >= a.counts_from + policy.ttl]
        if lapsed:
            expired_at = first_expiry(policy, lapsed)
            assert expired_at is not None
            reason = f"its approval expired at {format_time(expired_at)} before the run started"
            self._append(tx, request, EventKind.REQUEST_EXPIRED, actor, {"reason": reason})
            return ApprovalExpiredError(request.id, expired_at, policy.ttl_text)
        refusal = RequestRefused(
            f"{request.id}'s approvals no longer meet {request.target}'s policy (it needs"
            f" {', '.join(result.missing)}): ask again."
        )
        self._append(tx, request, EventKind.RUN_REFUSED, actor, {"reason": str(refusal)})
        return refusal

    def refuse_run(self, request_id: str, *, actor: str, reason: str) -> Request | None:
        """approved → refused: the pipeline could not start the run (its lock is held, the
        plan cannot be made again…). Does nothing to a request no longer approved (it ran,
        or ``start_run`` already ended it); returns the refused request, else None."""
        with self._transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state is not RequestState.APPROVED:
                return None
            data = {"reason": clean_text(reason, what="reason", limit=MAX_SUMMARY)}
            return self._append(tx, request, EventKind.RUN_REFUSED, actor, data)

    def _run_blocker(self, tx: Transaction, request: Request) -> RequestRefused | None:
        freeze = ledger.freeze_of(tx, request.target)
        if freeze is not None:
            return TargetFrozenError(freeze)
        busy = [r for r in ledger.running(tx, request.target) if r.id != request.id]
        if busy:
            return TargetBusyError(request.target, busy[0])
        if request.preflight is not None and not request.preflight.passed:
            return PreflightFailedError(request.id, request.preflight.summary)
        return None

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
        """Record a step of a running request (a check, the backup, one revision…).

        Raises ``WrongStateError`` unless the request is running.
        """
        return self.record_steps(
            request_id,
            actor=actor,
            steps=[StepRecord(step, status, revision, duration_s, detail)],
        )

    def record_steps(self, request_id: str, *, actor: str, steps: Sequence[StepRecord]) -> Request:
        """Record several steps in one transaction (one write to disk): a revision's end
        and the next one's start. Raises ``WrongStateError`` unless the request runs."""
        events = [step.event_data() for step in steps]
        with self._transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state is not RequestState.RUNNING:
                raise WrongStateError(request, "updated")
            for data in events:
                request = self._append(tx, request, EventKind.RUN_STEP, actor, data)
            return request

    def finish_run(
        self,
        request_id: str,
        *,
        actor: str,
        outcome: RequestState,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> Request:
        """running → succeeded, failed or aborted. ``reason`` is the error or why it was
        aborted. Raises ``RequestInputError``, ``AlreadyDoneError``, ``WrongStateError``."""
        outcome = one_of(RequestState, outcome, what="run outcome")
        if outcome not in RUN_OUTCOMES:
            raise RequestInputError(f"a run ends {', '.join(RUN_OUTCOMES)}, not {outcome}")
        data = {
            **dict(details or {}),
            "outcome": outcome,
            "reason": clean_text(reason, what="reason", limit=MAX_SUMMARY),
        }
        with self._transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state.is_final and request.run is not None:
                raise AlreadyDoneError(
                    f"{request.id} already finished: it {state_phrase(request)}.", request
                )
            if request.state is not RequestState.RUNNING:
                raise WrongStateError(request, "finished")
            return self._append(tx, request, EventKind.RUN_FINISHED, actor, data)

    def mark_interrupted_runs(
        self,
        *,
        actor: str,
        targets: Collection[str] | None = None,
        observations: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Request]:
        """Mark every running request (on ``targets``, default all) interrupted.

        For start-up after a crash: nothing can still be running for this
        process. With several bot processes on one file, pass only the targets
        whose run is known dead (e.g. its advisory lock is free).
        ``observations`` adds what was found per target (e.g. the revisions the
        database holds) to its event.
        """
        interrupted = []
        with self._transaction() as tx:
            for request in ledger.running(tx):
                if targets is not None and request.target not in targets:
                    continue
                run = request.run
                data = {
                    "reason": "the bot stopped while this ran",
                    "step": run.current_step if run else None,
                    "last_revision_applied": run.last_revision_applied if run else None,
                    **dict((observations or {}).get(request.target, {})),
                }
                done = self._append(tx, request, EventKind.RUN_INTERRUPTED, actor, data)
                interrupted.append(done)
        return interrupted

    # freezing --------------------------------------------------------------

    def frozen(self, target: str) -> Freeze | None:
        """The freeze in force on ``target``, if any."""
        return ledger.freeze_of(self.store, target)

    def freeze(self, target: str, *, actor: str, reason: str, break_glass: bool = False) -> Freeze:
        """Stop new runs on ``target`` (a run already going is not stopped).

        Only approvers may, unless ``break_glass`` (a terminal operator, recorded
        as such). Raises ``NotAnApproverError``, ``AlreadyDoneError``,
        ``RequestInputError`` (a reason is required), ``UnknownTargetError``.
        """
        reason = clean_text(reason, what="reason for the freeze", required=True)
        self._check_freezer(target, clean_actor(actor), "freeze it", break_glass)
        with self._transaction() as tx:
            current = ledger.freeze_of(tx, target)
            if current is not None:
                raise AlreadyDoneError(
                    f"{target} is already frozen by {current.by} since"
                    f" {format_time(current.at)}{quoted(current.reason)}."
                )
            data = {"reason": reason, "break_glass": break_glass}
            tx.append(kind=EventKind.TARGET_FROZEN, actor=actor, target=target, data=data)
            frozen = ledger.freeze_of(tx, target)
        assert frozen is not None
        return frozen

    def unfreeze(
        self, target: str, *, actor: str, reason: str = "", break_glass: bool = False
    ) -> Freeze:
        """Lift the freeze on ``target``; returns the freeze lifted. Raises as ``freeze``."""
        reason = clean_text(reason, what="reason")
        self._check_freezer(target, clean_actor(actor), "unfreeze it", break_glass)
        with self._transaction() as tx:
            current = ledger.freeze_of(tx, target)
            if current is None:
                raise AlreadyDoneError(f"{target} is not frozen.")
            data = {"reason": reason, "break_glass": break_glass}
            tx.append(kind=EventKind.TARGET_UNFROZEN, actor=actor, target=target, data=data)
        return current

    def _check_freezer(self, target: str, actor: str, action: str, break_glass: bool) -> None:
        policy = self.policy(target)
        if not break_glass:
            self._check_approver(policy, user=actor, action=action)
