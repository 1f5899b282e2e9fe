"""A change's way through Slack: started (its card posted), each phase asked, confirmed or
checked from the card, its moves said in the card's thread, its owner reminded of a
stale phase, abandoned.

A migrate phase is asked as the ordinary request (``Asking.ask``: pre-flight,
its message, its approvers told); a backfill phase as a backfill run posted
in the card's thread. A phase ends on its evidence when anything may have
moved it: a run's or a backfill's end, a click, and the rounds every minute,
which also watch the gates' quiet periods.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from bot.flows.asker import Asker
from bot.flows.asking import Asking
from bot.flows.backfill_flow import BackfillFlow
from bot.flows.change_messages import ChangeMessages
from bot.views.people import mention
from commands.backfill.model import RUN_PREFIX, BackfillRun
from commands.changes.ledger import ChangeRefusedError
from commands.changes.model import Change, ChangeState
from commands.changes.rounds import ROUND_S, change_round
from commands.changes.service import Changes
from commands.errors import MigrateBotError
from commands.pipeline import RunOutcome
from commands.requests import GroupLookup
from commands.requests.policy import ApprovalPolicy, check_approver
from commands.state.vocabulary import RequestKind

log = logging.getLogger(__name__)


class ChangeFlow:
    """The Slack front's changes; one per bot process."""

    def __init__(
        self,
        *,
        changes: Changes,
        messages: ChangeMessages,
        asking: Asking,
        backfills: BackfillFlow,
        groups: GroupLookup,
    ) -> None:
        self.changes = changes
        self.messages = messages
        self.asking = asking
        self.backfills = backfills
        self.groups = groups
        self._stop = threading.Event()
        self._rounds: threading.Thread | None = None
        backfills.on_finished.append(self.backfill_finished)

    # --- commands and clicks ------------------------------------------------------------

    def start(self, asker: Asker, *, target: str, name: str) -> str:
        change = self.changes.start(target, name, by=asker.user, origin={"channel": asker.channel})
        self.messages.post_card(change)
        return f"You started {change.id} ({change.name} on {change.target}): its card is here."

    def ask_phase(self, phase_ref: str, *, user: str, channel: str) -> str:
        """The card's Ask button: the current migrate or backfill phase's request or run."""
        change, index = self._phase(phase_ref)

        def propose(target: str, revision: str, requester: str, origin: Mapping[str, Any]) -> str:
            asker = Asker(
                requester,
                channel,
                dedupe_key=f"{change.id}:{index}:{len(change.phases[index].asked)}",
            )
            proposal = self.asking.ask(
                asker, kind=RequestKind.UPGRADE, target=target, goal=revision
            )
            return proposal.request.id

        change, asked = self.changes.ask(
            change.id, by=user, origin={"channel": channel}, propose=propose
        )
        spec = change.phases[index].spec
        if asked.startswith(RUN_PREFIX):
            self.backfills.posted(self.changes.backfills.ledger.load(asked))
        self.messages.in_thread(
            change, f"{mention(user)} asked phase {index + 1} ({spec.name}): {asked}."
        )
        self.messages.refresh_card(change.id)
        return f"You asked phase {index + 1} of {change.name}: {asked}, awaiting approval."

    def confirm(self, phase_ref: str, *, user: str) -> str:
        """The card's Confirm button: the deploy is out, as ``user`` says."""
        change, index = self._phase(phase_ref)
        self._may_decide(change, user, "confirm a deploy of")
        return self._confirmed(change.id, str(index + 1), user=user, target=None)

    def confirm_command(self, change_ref: str, phase: str, *, user: str) -> str:
        """``/migrate change confirm CHANGE PHASE``."""
        change = self.changes.load(change_ref)
        self._may_decide(change, user, "confirm a deploy of")
        return self._confirmed(change.id, phase, user=user, target=change.target)

    def confirm_from_pipeline(
        self, change_ref: str, phase: str, by: str, target: str | None
    ) -> str:
        """The deploy pipeline's call (``POST /changes/confirm``): recorded as ``deploy:BY``
        and drawn; what it unblocks is settled by the next round (a front reaches no
        target database)."""
        before = self.changes.load(change_ref, target)
        after = self.changes.confirm(
            before.id, phase, by=f"deploy:{by}", via="http", target=target, settle=False
        )
        self._moved(before, after)
        return f"{after.name} is now {_where(after)}."

    def _confirmed(self, change_id: str, phase: str, *, user: str, target: str | None) -> str:
        before = self.changes.load(change_id)
        after = self.changes.confirm(change_id, phase, by=user, via="slack", target=target)
        self._moved(before, after)
        return f"You confirmed the deploy: {after.name} is now {_where(after)}."

    def check(self, phase_ref: str, *, user: str) -> str:
        """The card's Check button: the gate's evidence read now."""
        change, _index = self._phase(phase_ref)
        after = self.changes.refresh(change.id, by=user)
        self._moved(change, after)
        self.messages.refresh_card(after.id)
        held = [c for c in self.changes.gate_conditions(after.id) if not c.held]
        if after.current != change.current:
            return f"The evidence holds: {after.name} is now {_where(after)}."
        return "Not yet: " + "; ".join(f"{c.what} ({c.detail})" for c in held)

    def abandon(self, change_ref: str, *, user: str, reason: str) -> str:
        change = self.changes.load(change_ref.partition(":")[0])
        self._may_decide(change, user, "abandon")
        after = self.changes.abandon(change.id, by=user, reason=reason)
        self.messages.refresh_card(after.id)
        self.messages.in_thread(after, f"⏹️ {mention(user)} abandoned {after.id}: {reason}")
        return f"{after.id} is abandoned: its later revisions are no longer held back."

    # --- what moves changes ----------------------------------------------------------------

    def request_finished(self, outcome: RunOutcome) -> None:
        """A run ended: the changes whose current phase asked for it are refreshed."""
        for change in self.changes.ledger.changes(target=outcome.target, in_flight=True):
            phase = change.current_phase
            if phase is not None and phase.last_asked == outcome.request_id:
                self._refresh(change)

    def backfill_finished(self, run: BackfillRun) -> None:
        if run.change is not None:
            self._refresh(self.changes.load(run.change))

    def round(self) -> None:
        """Every change in flight refreshed (its moves said), each stale phase reminded."""
        done = change_round(self.changes)
        for change in done.moved:
            self.messages.refresh_card(change.id)
            self.messages.in_thread(change, _moved_on(change))
        for change in done.stale:
            since = f"{change.waiting_since:%Y-%m-%d %H:%M} UTC"
            self.messages.in_thread(
                change,
                f"⏰ {mention(change.started_by)}, {change.name} has been {_where(change)}"
                f" since {since}.",
            )

    def start_rounds(self, every: float = ROUND_S) -> None:
        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.round()
                except Exception:
                    log.exception("the changes' round failed")

        self._rounds = threading.Thread(target=loop, name="change rounds", daemon=True)
        self._rounds.start()

    def stop(self) -> None:
        self._stop.set()
        if self._rounds is not None:
            self._rounds.join(5)
        self.backfills.shutdown()

    # --- helpers ---------------------------------------------------------------------------

    def _refresh(self, change: Change) -> None:
        try:
            after = self.changes.refresh(change.id)
        except MigrateBotError as exc:
            log.warning("change %s could not be refreshed: %s", change.id, exc)
            return
        self._moved(change, after)

    def _moved(self, before: Change, after: Change) -> None:
        """Each phase newly done said in the thread; the card drawn again."""
        for index, (old, new) in enumerate(zip(before.phases, after.phases, strict=True)):
            if old.done is None and new.done is not None:
                how = new.done.data.get("how", "")
                self.messages.in_thread(
                    after, f"✅ Phase {index + 1} ({new.spec.name}) is done: {how}."
                )
        if after.state is ChangeState.FINISHED and before.state is not ChangeState.FINISHED:
            self.messages.in_thread(after, _moved_on(after))
        self.messages.refresh_card(after.id)

    def _phase(self, ref: str) -> tuple[Change, int]:
        """A button's value, ``C-3:2``: the change and the phase the card showed current."""
        change_id, _, index_text = ref.partition(":")
        change = self.changes.load(change_id)
        if not index_text.isdigit() or int(index_text) != change.current:
            raise ChangeRefusedError(
                f"{change.id} moved on since this card was drawn: it is now {_where(change)}."
            )
        return change, int(index_text)

    def _may_decide(self, change: Change, user: str, action: str) -> None:
        """Whoever started the change, or one of its target's approvers."""
        if user == change.started_by:
            return
        policy = ApprovalPolicy.for_target(self.changes.config.target(change.target))
        check_approver(
            policy, user=user, requester=None, request_id=None, lookup=self.groups, action=action
        )


def _moved_on(change: Change) -> str:
    """The thread's line for a change that moved on: its end said the same way whichever
    noticed it, the run's end or the round."""
    if change.state is ChangeState.FINISHED:
        return f"🏁 {change.name} is finished."
    return f"{change.name} is now {_where(change)}."


def _where(change: Change) -> str:
    index = change.current
    if index is None:
        return change.state.value.replace("_", " ")
    return f"at phase {index + 1} of {len(change.phases)} ({change.phases[index].spec.name})"
