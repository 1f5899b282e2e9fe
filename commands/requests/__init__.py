"""Migration requests: the model folded from the audit log, the approval
policy, and the service both fronts and the pipeline call."""

from commands.requests.decisions import ApprovalResult
from commands.requests.errors import (
    AlreadyDoneError,
    ApprovalExpiredError,
    ChecklistIncompleteError,
    NotAnApproverError,
    NothingToDoError,
    PlanChangedError,
    PreflightFailedError,
    ProposalError,
    RequestInputError,
    RequestNotFoundError,
    RequestRefused,
    SelfApprovalError,
    TargetBusyError,
    TargetFrozenError,
    WrongStateError,
)
from commands.requests.model import Approval, ChecklistTick, Freeze, Preflight, Request, Step
from commands.requests.policy import ApprovalPolicy, GroupLookup, Tally, no_group_members
from commands.requests.service import RequestService, open_requests

__all__ = [
    "AlreadyDoneError",
    "Approval",
    "ApprovalExpiredError",
    "ApprovalPolicy",
    "ApprovalResult",
    "ChecklistIncompleteError",
    "ChecklistTick",
    "Freeze",
    "GroupLookup",
    "NotAnApproverError",
    "NothingToDoError",
    "PlanChangedError",
    "Preflight",
    "PreflightFailedError",
    "ProposalError",
    "Request",
    "RequestInputError",
    "RequestNotFoundError",
    "RequestRefused",
    "RequestService",
    "SelfApprovalError",
    "Step",
    "Tally",
    "TargetBusyError",
    "TargetFrozenError",
    "WrongStateError",
    "no_group_members",
    "open_requests",
]
