"""Why a request action was refused, as polite sentences both fronts show as they are.

Every refusal changes nothing in the request (a few are recorded as an
``action_refused`` event for the auditor; see the service). Attributes carry
the details a front may want to render differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from commands.errors import ExitCode, MigrateBotError
from commands.requests.model import Freeze, Request
from commands.requests.wording import format_time, quoted, state_phrase


class RequestInputError(MigrateBotError):
    """A request id, goal, reason or origin is malformed: nothing was recorded."""

    exit_code = ExitCode.BAD_INPUT


class RequestNotFoundError(MigrateBotError):
    exit_code = ExitCode.BAD_INPUT

    def __init__(self, request_id: str) -> None:
        super().__init__(f"There is no request {request_id}.")
        self.request_id = request_id


class RequestRefused(MigrateBotError):
    """Valid, but not allowed now. Base of the refusals below."""

    exit_code = ExitCode.REFUSED


class ProposalError(MigrateBotError):
    """The ask cannot become a request: the project or database cannot be planned."""


class NothingToDoError(RequestRefused):
    def __init__(self, target: str, where: str) -> None:
        super().__init__(f"{target} is already at {where}: there is nothing to do.")


class WrongStateError(RequestRefused):
    """The request's state does not allow the action (it was cancelled, it already ran…)."""

    def __init__(self, request: Request, action: str, hint: str = "") -> None:
        tail = f" {hint}" if hint else ""
        super().__init__(f"{request.id} cannot be {action}: it {state_phrase(request)}.{tail}")
        self.request = request
        self.action = action


class AlreadyDoneError(RequestRefused):
    """The same action already happened (a double click, a retry, a lost race): no change."""

    def __init__(self, message: str, request: Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class SelfApprovalError(RequestRefused):
    def __init__(self, request_id: str, action: str = "approve") -> None:
        advice = "cancel it instead" if action == "reject" else "a second person must"
        super().__init__(f"You asked for {request_id}, so you cannot {action} it: {advice}.")


class NotAnApproverError(RequestRefused):
    def __init__(self, user: str, target: str, approvers: Sequence[str], action: str) -> None:
        super().__init__(
            f"Only {target}'s approvers ({', '.join(approvers)}) can {action}; {user} is not one."
        )
        self.user = user


class ChecklistIncompleteError(RequestRefused):
    def __init__(self, request_id: str, missing: Sequence[str]) -> None:
        super().__init__(
            f"{request_id} cannot be approved yet: still to confirm: {'; '.join(missing)}."
        )
        self.missing = tuple(missing)


class PlanChangedError(RequestRefused):
    """The plan is not the one approved (or shown): the changes say what moved."""

    def __init__(self, request_id: str, changes: Sequence[str], *, when: str) -> None:
        super().__init__(
            f"{request_id}'s plan changed {when}: {'; '.join(changes)}."
            " It must be checked and approved again."
        )
        self.changes = tuple(changes)


class ApprovalExpiredError(RequestRefused):
    def __init__(self, request_id: str, expired_at: datetime, ttl_text: str) -> None:
        super().__init__(
            f"{request_id}'s approval expired at {format_time(expired_at)} (approvals last"
            f" {ttl_text}), so it will not run. Ask again for a fresh approval."
        )
        self.expired_at = expired_at


class PreflightFailedError(RequestRefused):
    def __init__(self, request_id: str, summary: str) -> None:
        super().__init__(f"{request_id} will not run: its latest pre-flight failed: {summary}.")


class TargetFrozenError(RequestRefused):
    def __init__(self, freeze: Freeze) -> None:
        super().__init__(
            f"{freeze.target} is frozen by {freeze.by} since {format_time(freeze.at)}"
            f"{quoted(freeze.reason)}: nothing runs on it until an approver unfreezes it."
        )
        self.freeze = freeze


class TargetBusyError(RequestRefused):
    def __init__(self, target: str, running: Request) -> None:
        assert running.run is not None
        super().__init__(
            f"{target} is busy: {running.id} is running (started by {running.run.started_by}"
            f" at {format_time(running.run.started_at)}). One run at a time per target."
        )
        self.running = running


class MemberDriftedError(RequestRefused):
    """A member's database (or the project) moved since the set was approved: not run."""

    def __init__(self, member: str, request_id: str, changes: Sequence[str]) -> None:
        super().__init__(
            f"{member} is skipped: it moved since {request_id} was approved"
            f" ({'; '.join(changes)}); it never runs under an approval for another plan."
        )
        self.changes = tuple(changes)


class FleetNotRunningError(RequestRefused):
    """A member event for a fleet request whose run is not going (ended, or never began)."""
