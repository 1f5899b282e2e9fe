"""Plain sentences about requests, for refusals both fronts show as they are."""

from __future__ import annotations

from datetime import UTC, datetime

from commands.requests.model import Request
from commands.state.vocabulary import RequestState


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def quoted(reason: str) -> str:
    return f' ("{reason}")' if reason else ""


def state_phrase(request: Request) -> str:
    """What has become of ``request``, e.g. 'was cancelled by U0BOB at … ("wrong target")'."""
    state = request.state
    if state is RequestState.REQUESTED:
        return _requested_phrase(request)
    if state is RequestState.AWAITING_APPROVAL:
        return "is waiting for approval"
    if state is RequestState.APPROVED:
        names = ", ".join(a.approver for a in request.current_approvals)
        return f"is already approved (by {names})"
    if state is RequestState.RUNNING and request.run is not None:
        run = request.run
        return f"is already running (started by {run.started_by} at {format_time(run.started_at)})"
    return _closed_phrase(request)


def _requested_phrase(request: Request) -> str:
    if request.preflight is not None and not request.preflight.passed:
        return f"failed its pre-flight checks: {request.preflight.summary}"
    if request.plan_changes:
        return f"had its plan change ({'; '.join(request.plan_changes)}) and needs re-checking"
    return "is still waiting for its pre-flight checks"


def _closed_phrase(request: Request) -> str:
    closure = request.closure
    assert closure is not None
    when = format_time(closure.at)
    if request.state in (RequestState.REJECTED, RequestState.CANCELLED):
        return f"was {request.state.value} by {closure.by} at {when}{quoted(closure.reason)}"
    if request.state is RequestState.INTERRUPTED:
        step = closure.details.get("step")
        during = f" during {step}" if step else ""
        return f"was interrupted at {when}{during}: the bot stopped while it ran"
    return f"{request.state.value} at {when}{quoted(closure.reason)}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
