"""Acknowledging live use: the part of the request service behind the approver's
second checkbox (see ``commands.requests.live_use``)."""

from __future__ import annotations

from commands.requests import ledger
from commands.requests.base import ServiceBase
from commands.requests.errors import WrongStateError
from commands.requests.inputs import clean_actor, parse_request_id
from commands.requests.live_use import acknowledgement_data
from commands.requests.model import Request
from commands.state.vocabulary import PENDING_STATES, EventKind


class LiveUseAcknowledgements(ServiceBase):
    """Record that an approver read the evidence that the application uses what changes."""

    def acknowledge_live_use(self, request_id: str, *, actor: str) -> Request:
        """An approver's acknowledgement, recorded once per plan and findings.

        Raises ``SelfApprovalError`` (the requester), ``NotAnApproverError``
        (recorded), ``NothingToAcknowledgeError``, ``AlreadyDoneError`` or
        ``WrongStateError`` once the request is approved or closed.
        """
        actor = clean_actor(actor)
        request = self.get(request_id)
        self._check_approver(
            self.policy(request.target),
            user=actor,
            action="acknowledge",
            request=request,
            requester=request.requester,
        )
        with self._transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state not in PENDING_STATES:
                raise WrongStateError(request, "acknowledged")
            data = acknowledgement_data(request, actor)
            return self._append(tx, request, EventKind.LIVE_USE_ACKNOWLEDGED, actor, data)
