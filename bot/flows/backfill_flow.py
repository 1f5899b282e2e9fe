"""A backfill's way through Slack: asked (its message with the pre-flight's estimate),
approved by a second person, walked by an engine in a thread of this process, paused,
resumed and stopped by approvers; its holds and its end said in its thread.

After a restart the runs whose engine died are shown interrupted at their
checkpoint, with Resume: never resumed on their own. At shutdown the engines
stop at their next batch boundary and their runs are interrupted the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.flows.asker import Asker
from bot.flows.change_messages import ChangeMessages
from bot.views.people import mention
from commands.backfill.engine import Engine
from commands.backfill.model import BackfillRun, BackfillState
from commands.backfill.recovery import recover_backfills
from commands.backfill.service import Backfills
from commands.errors import MigrateBotError
from commands.units import format_duration

log = logging.getLogger(__name__)

Finished = Callable[[BackfillRun], None]


class BackfillFlow:
    """The Slack front's backfills; one per bot process."""

    def __init__(
        self,
        *,
        backfills: Backfills,
        messages: ChangeMessages,
        ask_approvers: Callable[[BackfillRun], None] = lambda run: None,
    ) -> None:
        self.backfills = backfills
        self.messages = messages
        self.ask_approvers = ask_approvers
        self.on_finished: list[Finished] = []  # a change's phase waits for its run
        self._stopping = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self._seen: dict[str, BackfillRun] = {}
        self._lock = threading.Lock()

    # --- asking and deciding ---------------------------------------------------------

    def ask(self, asker: Asker, *, target: str, name: str) -> BackfillRun:
        """``/migrate backfill TARGET NAME``: pre-flight, record, post, tell the approvers."""
        spec = self.backfills.spec(target, name)
        run = self.backfills.ask(
            target, spec, requester=asker.user, origin={"channel": asker.channel}
        )
        self.posted(run)
        return run

    def posted(self, run: BackfillRun) -> None:
        """A run just asked (here or by a change's phase): its message, and its approvers."""
        self.messages.post_backfill(run)
        self.ask_approvers(run)

    def approve(self, run_id: str, *, user: str) -> str:
        run = self.backfills.approve(run_id, approver=user)
        self.messages.refresh_backfill(run.id)
        self.start(run.id)
        return f"You approved {run.id}: the backfill starts."

    def reject(self, run_id: str, *, user: str) -> str:
        run = self.backfills.cancel(run_id, by=user, reason="rejected in Slack")
        self.messages.refresh_backfill(run.id)
        return f"{run.id} is cancelled."

    def pause(self, run_id: str, *, user: str) -> str:
        run = self.backfills.pause(run_id, by=user)
        self.messages.refresh_backfill(run.id)
        self.messages.about_backfill(run, f"⏸️ {mention(user)} paused {run.id}.")
        return f"{run.id} pauses after the batch in flight."

    def resume(self, run_id: str, *, user: str) -> str:
        run = self.backfills.resume(run_id, by=user)
        where = run.progress.checkpoint or "the start"
        self.messages.about_backfill(run, f"▶️ {mention(user)} resumed {run.id} from `{where}`.")
        self.start(run.id)
        return f"{run.id} goes on from {where}."

    def stop(self, run_id: str, *, user: str) -> str:
        run = self.backfills.stop(run_id, by=user)
        self.messages.refresh_backfill(run.id)
        self.messages.about_backfill(run, f"⏹️ {mention(user)} stopped {run.id}.")
        return f"{run.id} stops after the batch in flight."

    # --- engines ----------------------------------------------------------------------

    def start(self, run_id: str) -> None:
        """Walk ``run_id`` in a thread of this process (an approved or resumed run)."""
        engine = self.backfills.engine(run_id, notify=self._notify, stopping=self._stopping)
        thread = threading.Thread(
            target=self._walk, args=(engine, run_id), name=f"backfill {run_id}", daemon=True
        )
        with self._lock:
            self._threads[run_id] = thread
        thread.start()

    def _walk(self, engine: Engine, run_id: str) -> None:
        try:
            engine.run(run_id)
        except MigrateBotError as exc:
            run = self.backfills.ledger.load(run_id)
            self.messages.about_backfill(run, f"⚠️ {run.id} did not start: {exc}")
        except Exception:
            log.exception("backfill %s's engine failed", run_id)
        finally:
            with self._lock:
                self._threads.pop(run_id, None)

    def running(self) -> list[str]:
        with self._lock:
            return list(self._threads)

    def _notify(self, run: BackfillRun) -> None:
        """After each event an engine records: the message redrawn, transitions said."""
        self.messages.refresh_backfill(run.id)
        with self._lock:
            before, self._seen[run.id] = self._seen.get(run.id), run
        for line in _transitions(before, run):
            self.messages.about_backfill(run, line)
        if run.state.is_final or run.state is BackfillState.FAILED:
            for finished in self.on_finished:
                finished(run)

    # --- life ---------------------------------------------------------------------------

    def recover(self) -> list[BackfillRun]:
        """At start-up: runs whose engine died, marked interrupted and shown so."""
        found = recover_backfills(self.backfills.ledger, self.backfills.database_of)
        for run in found:
            self.messages.refresh_backfill(run.id)
            where = run.progress.checkpoint or "the start"
            self.messages.about_backfill(
                run,
                f"⚠️ {run.id} was interrupted at `{where}`: the bot stopped while it ran."
                " Resume goes on from there; it is never resumed on its own.",
                key=f"{run.id}:interrupted:{run.last_seq}",
            )
        return found

    def shutdown(self, timeout: float = 10.0) -> None:
        """Engines stop at their next batch boundary (their runs interrupted, resumable)."""
        self._stopping.set()
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)


def _transitions(before: BackfillRun | None, after: BackfillRun) -> list[str]:
    """What changed for people to read: a hold began or ended, the run ended."""
    lines = []
    held_before = before.hold if before is not None else None
    if after.hold is not None and (held_before is None or held_before.reason != after.hold.reason):
        lines.append(f"⏸️ {after.id} holds: {after.hold.detail}.")
    if held_before is not None and after.hold is None and not after.state.is_final:
        lines.append(f"▶️ {after.id} goes on: the reason to hold is gone.")
    ended = before is None or before.state != after.state
    if ended and after.state is BackfillState.DONE:
        took = format_duration(after.progress.running_s + after.progress.held_s)
        lines.append(f"✅ {after.id} is done: {after.progress.rows:,} rows in {took}.")
    if ended and after.state is BackfillState.FAILED:
        lines.append(
            f"❌ {after.id} failed: {after.error}. Resume tries again from its checkpoint."
        )
    if ended and after.state is BackfillState.INTERRUPTED:
        lines.append(f"⚠️ {after.id} was interrupted; it goes on only when someone resumes it.")
    return lines
