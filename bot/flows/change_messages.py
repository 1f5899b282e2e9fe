"""Everything the bot says about changes and backfills, through the notifier's outbox.

A change's card is posted once where the change was started (``C-3:card``)
and drawn again from the log on every move; what happens to it goes to the
card's thread, where its backfill runs' messages are posted too. A
standalone backfill's message (``B-4:message``) is posted where it was asked,
with its holds and its end in its own thread. The notifier coalesces redraws
and keeps within Slack's rate limits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from audit.store import Clock, EventStore, utc_now
from bot.slack_api.links import Link
from bot.slack_api.notifier import Notifier
from bot.views.backfill import RUN_LINK, approval_wanted, backfill_message
from bot.views.change_card import change_message
from commands.backfill.ledger import BackfillLedger
from commands.backfill.model import BackfillRun
from commands.changes.card import change_card
from commands.changes.ledger import ChangeLedger
from commands.changes.model import Change


def card_key(change_id: str) -> str:
    return f"{change_id}:card"


def backfill_key(run_id: str) -> str:
    return f"{run_id}:message"


class ChangeMessages:
    """Posts and redraws; never raises for Slack (the outbox holds on)."""

    def __init__(self, *, store: EventStore, notifier: Notifier, clock: Clock = utc_now) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self._lock = threading.Lock()

    # --- a change's card and thread ------------------------------------------------

    def post_card(self, change: Change) -> None:
        """Post the card where the change was started (a retried start redraws it)."""
        key = card_key(change.id)
        if self.notifier.knows(key):
            self.refresh_card(change.id)
            return
        channel = change.origin.get("channel")
        if channel:
            text, blocks = change_message(change_card(self.store, change, self.clock()))
            self.notifier.post(channel, text, blocks, key=key)

    def refresh_card(self, change_id: str) -> None:
        """Draw the card again from the log (nothing for a change with no card here)."""
        key = card_key(change_id)
        if not self.notifier.knows(key):
            return
        with self._lock:  # read and queued together: an older picture never wins
            change = ChangeLedger(self.store).load(change_id)
            text, blocks = change_message(change_card(self.store, change, self.clock()))
            self.notifier.update(key, text, blocks)

    def in_thread(self, change: Change, text: str, *, key: str | None = None) -> None:
        """A reply in the card's thread."""
        channel = change.origin.get("channel")
        if channel and self.notifier.knows(card_key(change.id)):
            self.notifier.post(channel, text, thread=card_key(change.id), key=key)

    # --- a backfill run's message ----------------------------------------------------

    def post_backfill(self, run: BackfillRun) -> None:
        """Post the run's message: in its change's thread, else where it was asked."""
        key = backfill_key(run.id)
        if self.notifier.knows(key):
            self.refresh_backfill(run.id)
            return
        channel, thread = self._where(run)
        if channel:
            text, blocks = backfill_message(run, self.clock())
            self.notifier.post(channel, text, blocks, key=key, thread=thread)

    def refresh_backfill(self, run_id: str) -> None:
        key = backfill_key(run_id)
        if not self.notifier.knows(key):
            return
        with self._lock:
            run = BackfillLedger(self.store).load(run_id)
            text, blocks = backfill_message(run, self.clock())
            self.notifier.update(key, text, blocks)

    def about_backfill(self, run: BackfillRun, text: str, *, key: str | None = None) -> None:
        """A line about the run: in its change's thread, else in its message's thread."""
        channel, thread = self._where(run)
        thread = thread or backfill_key(run.id)
        if channel and self.notifier.knows(thread):
            self.notifier.post(channel, text, thread=thread, key=key)

    def ask_approvers(self, run: BackfillRun, users: Iterable[str]) -> None:
        """A direct message to each approver but the requester, once, linking to the run."""
        link = Link(token=RUN_LINK, message=backfill_key(run.id), label="its message", fallback="")
        text, blocks = approval_wanted(run)
        for user in users:
            if user != run.requester:
                key = f"{run.id}:approver:{user}"
                self.notifier.post(user, text, blocks, key=key, link=link)

    def _where(self, run: BackfillRun) -> tuple[str | None, str | None]:
        """(channel, thread) of a run's message: its change's card thread, or its own ask."""
        if run.change is not None:
            change = ChangeLedger(self.store).load(run.change)
            return change.origin.get("channel"), card_key(change.id)
        return run.origin.get("channel"), None
