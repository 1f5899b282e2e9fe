"""The approver's acknowledgement of live use: read the evidence, then approve.

When the request's latest pre-flight found the application still using what
the plan breaks (the ``live_use`` check warned), each approver must first
acknowledge it (a checkbox only approvers may tick), and only then may their
approval count. An acknowledgement covers the plan it was given for and the
findings it named: a new plan, or a new finding, asks for it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commands.requests.errors import AlreadyDoneError, RequestRefused
from commands.requests.model import LiveUseAck, Request
from commands.requests.wording import format_time

CHECK = "live_use"


class LiveUseNotAcknowledgedError(RequestRefused):
    def __init__(self, request_id: str, subjects: list[str]) -> None:
        super().__init__(
            f"{request_id} cannot be approved yet: the application still uses"
            f" {', '.join(subjects)}. Read the evidence and tick “I have read the live-use"
            " evidence” first (each approver does)."
        )
        self.subjects = tuple(subjects)


class NothingToAcknowledgeError(RequestRefused):
    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"{request_id}'s pre-flight found no live use of what it changes: there is nothing"
            " to acknowledge."
        )


def live_use_check(request: Request) -> Mapping[str, Any] | None:
    """The ``live_use`` result of the request's latest pre-flight, if it ran."""
    for check in request.preflight.checks if request.preflight else ():
        if isinstance(check, Mapping) and check.get("name") == CHECK:
            return check
    return None


def warned_findings(request: Request) -> list[Mapping[str, Any]]:
    """The findings an approver must acknowledge: those of a ``live_use`` that warned."""
    check = live_use_check(request)
    if check is None or check.get("verdict") != "warn":
        return []
    data = check.get("data")
    findings = data.get("findings") if isinstance(data, Mapping) else None
    return [f for f in findings or () if isinstance(f, Mapping) and f.get("level") == "warn"]


def acknowledgement_by(request: Request, user: str) -> LiveUseAck | None:
    """``user``'s acknowledgement that covers every current finding of the current plan."""
    keys = {str(f.get("key")) for f in warned_findings(request)}
    for ack in reversed(request.live_use_acks):
        if (
            ack.by == user
            and ack.fingerprint == request.fingerprint.digest
            and keys <= set(ack.findings)
        ):
            return ack
    return None


def acknowledged_by(request: Request) -> tuple[str, ...]:
    """Who has acknowledged the current findings, in order."""
    users = dict.fromkeys(ack.by for ack in request.live_use_acks)
    return tuple(user for user in users if acknowledgement_by(request, user) is not None)


def check_live_use_acknowledged(request: Request, approver: str) -> None:
    """Raises ``LiveUseNotAcknowledgedError`` while ``approver`` owes an acknowledgement."""
    findings = warned_findings(request)
    if findings and acknowledgement_by(request, approver) is None:
        subjects = [f"`{f.get('subject')}`" for f in findings]
        raise LiveUseNotAcknowledgedError(request.id, subjects)


def acknowledgement_data(request: Request, user: str) -> dict[str, Any]:
    """The event's data; raises ``NothingToAcknowledgeError`` or ``AlreadyDoneError``."""
    findings = warned_findings(request)
    if not findings:
        raise NothingToAcknowledgeError(request.id)
    done = acknowledgement_by(request, user)
    if done is not None:
        raise AlreadyDoneError(
            f"You already acknowledged the live use on {request.id} at {format_time(done.at)}.",
            request,
        )
    return {
        "fingerprint": request.fingerprint.digest,
        "findings": [str(f.get("key")) for f in findings],
        "subjects": [str(f.get("subject")) for f in findings],
        "calls": sum(int(f.get("calls") or 0) for f in findings),
    }
