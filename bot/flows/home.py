"""Each person's App Home tab, gathered and published (``views.publish``).

Published when they open the tab (``app_home_opened``) and again after a
click on it, with what the click did on top. The requests come from the
newest ``SCANNED`` in the audit log (an open request older than that is
rare; ``/migrate status`` and the CLI still find it); each target's revision
is read from its database, at most once per ``status_ttl`` for everyone, so
opening the tab does not start an Alembic child per person.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from slack_sdk import WebClient

from bot.flows.request_flow import RequestFlow
from bot.views.home import HomePage, TargetLine, home_view
from commands.config.targets_file import TargetConfig
from commands.errors import MigrateBotError
from commands.migration.planning import status
from commands.migration.script.plan import Status
from commands.requests import Request, RequestRefused
from commands.requests.policy import check_approver
from commands.requests.slots import upcoming_slots
from commands.schema.drift_log import drift_statuses
from commands.state.vocabulary import RequestState
from commands.targets import fleet_members

log = logging.getLogger(__name__)

SCANNED = 100
MINE_SHOWN = 8
RUNS_SHOWN = 8
STATUS_TTL_S = 30.0
RAN = (
    RequestState.SUCCEEDED,
    RequestState.FAILED,
    RequestState.ABORTED,
    RequestState.INTERRUPTED,
)


class HomeTab:
    """``publish(user)``: that person's home tab, drawn from the log and the databases."""

    def __init__(
        self,
        *,
        flow: RequestFlow,
        client: WebClient,
        status_ttl: float = STATUS_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flow = flow
        self._client = client
        self._ttl = status_ttl
        self._monotonic = monotonic
        self._statuses: dict[str, tuple[float, Status | MigrateBotError]] = {}
        self._lock = threading.Lock()

    def publish(self, user: str, note: str | None = None) -> None:
        self._client.views_publish(user_id=user, view=home_view(self.page(user, note)))

    def page(self, user: str, note: str | None = None) -> HomePage:
        context = self._flow.context
        recent = context.requests.requests(limit=SCANNED)
        card = self._flow.messages.card
        return HomePage(
            user=user,
            waiting=[card(r) for r in recent if self._may_approve(user, r)],
            mine=[card(r) for r in recent if r.requester == user][:MINE_SHOWN],
            targets=[self._target_line(t) for t in context.config.targets.values()],
            runs=[r for r in recent if r.state in RAN and r.run is not None][:RUNS_SHOWN],
            now=context.clock(),
            note=note,
            drift=drift_statuses(context.store),
            **self._changes(),
        )

    def _changes(self) -> dict[str, Any]:
        """The changes in flight and the open backfills, where this bot runs them."""
        changes = self._flow.changes
        if changes is None:
            return {}
        return {
            "changes": changes.changes.ledger.changes(in_flight=True),
            "backfills": changes.backfills.backfills.ledger.runs(open_only=True),
        }

    def _may_approve(self, user: str, request: Request) -> bool:
        """Awaiting an approval ``user`` may give and has not given yet."""
        if request.state is not RequestState.AWAITING_APPROVAL:
            return False
        if any(a.approver == user for a in request.current_approvals):
            return False
        try:
            check_approver(
                self._flow.context.requests.policy(request.target),
                user=user,
                requester=request.requester,
                request_id=request.id,
                lookup=self._flow.groups,
            )
        except RequestRefused:
            return False
        return True

    def _target_line(self, target: TargetConfig) -> TargetLine:
        context = self._flow.context
        slots = upcoming_slots(target, now=context.clock(), count=1)
        line = TargetLine(
            name=target.name,
            revisions=None,
            pending=None,
            frozen=context.requests.frozen(target.name),
            next_window=slots[0] if slots else None,
        )
        if target.is_fleet:  # its members are many: `/migrate status` reads them all
            try:
                return replace(line, members=len(fleet_members(target)))
            except MigrateBotError as exc:
                return replace(line, problem=str(exc))
        known = self._status(target)
        if isinstance(known, MigrateBotError):
            return replace(line, problem=str(known))
        return replace(line, revisions=known.current, pending=len(known.pending))

    def _status(self, target: TargetConfig) -> Status | MigrateBotError:
        """The target's status, read again once it is older than the TTL."""
        with self._lock:
            kept = self._statuses.get(target.name)
        if kept is not None and self._monotonic() - kept[0] < self._ttl:
            return kept[1]
        try:
            found: Status | MigrateBotError = status(self._flow.context.target(target.name))
        except MigrateBotError as exc:
            log.info("home tab: %s cannot be read: %s", target.name, exc)
            found = exc
        with self._lock:
            self._statuses[target.name] = (self._monotonic(), found)
        return found
