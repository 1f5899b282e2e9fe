"""Freezing a target: no run starts on it until an approver lifts the freeze.

A run already going is not stopped. Only approvers may freeze or unfreeze,
unless a terminal operator breaks glass (recorded as such).
"""

from __future__ import annotations

from commands.requests import ledger
from commands.requests.errors import AlreadyDoneError
from commands.requests.inputs import clean_actor, clean_text
from commands.requests.model import Freeze
from commands.requests.request_log import RequestLog
from commands.requests.wording import format_time, quoted
from commands.state.vocabulary import EventKind


class Freezes:
    """Freeze and unfreeze targets, and read the freeze in force."""

    def __init__(self, log: RequestLog) -> None:
        self.log = log

    def frozen(self, target: str) -> Freeze | None:
        """The freeze in force on ``target``, if any."""
        return ledger.freeze_of(self.log.store, target)

    def freeze(self, target: str, *, actor: str, reason: str, break_glass: bool = False) -> Freeze:
        """Stop new runs on ``target`` (a run already going is not stopped).

        Only approvers may, unless ``break_glass`` (a terminal operator, recorded
        as such). Raises ``NotAnApproverError``, ``AlreadyDoneError``,
        ``RequestInputError`` (a reason is required), ``UnknownTargetError``.
        """
        reason = clean_text(reason, what="reason for the freeze", required=True)
        self._check_freezer(target, clean_actor(actor), "freeze it", break_glass)
        with self.log.transaction() as tx:
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
        with self.log.transaction() as tx:
            current = ledger.freeze_of(tx, target)
            if current is None:
                raise AlreadyDoneError(f"{target} is not frozen.")
            data = {"reason": reason, "break_glass": break_glass}
            tx.append(kind=EventKind.TARGET_UNFROZEN, actor=actor, target=target, data=data)
        return current

    def _check_freezer(self, target: str, actor: str, action: str, break_glass: bool) -> None:
        policy = self.log.policy(target)
        if not break_glass:
            self.log.check_approver(policy, user=actor, action=action)
