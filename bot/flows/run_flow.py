"""A request's run through Slack: started (or queued) once approved, refused, finished and
announced, the next one on its target started; after a restart, the runs that died
recovered and announced.

``runs`` is where approved requests go: this process's ``executor`` (its run
threads, the embedded default) or, with a shared state, the job queue
(``QueuedRuns``), whose workers hand each run to their own ``executor``
(``run_here``). The executor runs ``run_request`` with the bot's wrappers: its log
lines name the request and the database, and a fleet's members run at a lower
CPU priority than the answers to Slack.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from bot.flows.request_messages import RequestMessages
from bot.logs.setup import log_context
from bot.work_pool import background_priority
from commands.errors import MigrateBotError
from commands.pipeline import (
    InterruptedRun,
    RunContext,
    RunOutcome,
    RunThreads,
    RunWrappers,
    recover_interrupted,
)
from commands.pipeline.outcomes import recorded_outcome
from commands.pipeline.run_threads import AlreadyRunningError, Runs
from commands.state.vocabulary import RUN_OUTCOMES, RequestState

log = logging.getLogger(__name__)

# how far back a restart looks for runs whose outcome was never announced
UNANNOUNCED_LOOKBACK = timedelta(days=1)
RefusalSink = Callable[[str, MigrateBotError], None]


def _logged(request_id: str, target: str) -> AbstractContextManager[None]:
    """A run's log lines name its request and the database it runs on (a member's own)."""
    return log_context(request_id=request_id, target=target)


BOT_WRAPPERS = RunWrappers(around=_logged, member_thread=background_priority)


class RunFlow:
    """Starts, stops and announces runs; one per bot process. ``on_refused`` is told of
    each run that could not start (the scheduler expires a scheduled one)."""

    def __init__(
        self,
        *,
        context: RunContext,
        messages: RequestMessages,
        queue: Runs | None = None,
        on_refused: RefusalSink = lambda _request_id, _refusal: None,
    ) -> None:
        self.context = context
        self.messages = messages
        self.on_refused = on_refused
        self.executor = RunThreads(
            context,
            wrappers=BOT_WRAPPERS,
            on_update=messages.on_update,
            on_outcome=self._finished,
            on_refused=self._refused,
        )
        self.runs: Runs = queue or self.executor
        self.after_outcome: list[Callable[[RunOutcome], None]] = []  # e.g. a change's phase

    def start(self, request_id: str, target: str) -> str | None:
        """Hand an approved request to ``runs``; why not, if it cannot start now."""
        if self.runs is not self.executor:  # queued: one run per target waits its turn there
            busy = self.context.requests.requests(
                target=target, states=[RequestState.RUNNING], limit=1
            )
            self.runs.submit(request_id, target)
            if busy and busy[0].id != request_id:
                note = f"{busy[0].id} is running on {target}; this run starts when it ends."
                self.messages.not_started(request_id, note)
                return note
            return None
        try:
            self.runs.submit(request_id, target)
        except AlreadyRunningError as busy:
            note = f"{busy} It starts when that run ends."
            self.messages.not_started(request_id, note)
            return note
        return None

    def submit(self, request_id: str, target: str, *, until: datetime | None) -> None:
        """Start an approved request's run now, to end by ``until`` (a scheduled slot's
        end); raises ``AlreadyRunningError`` while another run holds the target."""
        self.runs.submit(request_id, target, until=until)

    def run_here(
        self, request_id: str, target: str, *, until: datetime | None, cancel: threading.Event
    ) -> None:
        """A worker's turn at a queued run: run it in this process to its outcome, which
        is announced (or its refusal said) as for a run started here. ``cancel`` set
        (the Stop button, from any process) aborts it."""
        self.executor.start(request_id, target, until=until, cancel=cancel).result()

    def running(self) -> list[str]:
        """The requests running (or queued) from here."""
        return self.runs.running()

    def stop(self, request_id: str) -> bool:
        """Abort a running request wherever it runs; ``False`` if it does not run."""
        return self.runs.cancel(request_id)

    def recover(self, targets: Collection[str] | None = None) -> list[InterruptedRun]:
        """At start-up: runs that died with the last process, marked and announced once
        (``targets``: only those, e.g. a worker's)."""
        found = recover_interrupted(self.context, targets)
        for run in found:
            self.messages.announce_interrupted(run)
        self._announce_unannounced()
        return found

    def _announce_unannounced(self) -> None:
        """Runs that ended while their outcome was never queued (the bot died in the
        moment between the two): announced now, from the log, once."""
        since = self.context.clock() - UNANNOUNCED_LOOKBACK
        for request in self.context.requests.requests(states=RUN_OUTCOMES, limit=50):
            if request.run is None or request.closure is None or request.closure.at < since:
                continue
            if self.messages.outcome_owed(request.id):
                log.warning("%s ended without its outcome announced: announcing it", request.id)
                self.messages.announce_outcome(recorded_outcome(request, self.context.store))

    def shutdown(self) -> None:
        """Stop running runs (each is aborted, its revision in flight rolled back) and wait."""
        self.runs.shutdown(cancel_running=True)
        if self.executor is not self.runs:
            self.executor.shutdown(cancel_running=True)

    def _finished(self, outcome: RunOutcome) -> None:
        self.messages.announce_outcome(outcome)
        for watcher in self.after_outcome:
            try:
                watcher(outcome)
            except MigrateBotError as exc:  # one watcher's trouble stops neither the others
                log.warning("after %s's outcome: %s", outcome.request_id, exc)  # nor the queue
        self._start_next(outcome.target)

    def _refused(self, request_id: str, refusal: MigrateBotError) -> None:
        self.messages.not_started(request_id, str(refusal))
        self.on_refused(request_id, refusal)  # a scheduled run refused expires

    def _start_next(self, target: str) -> None:
        """One run per target: the oldest approved request waiting on it starts now."""
        approved = self.context.requests.requests(
            target=target, states=[RequestState.APPROVED], limit=50
        )
        waiting = [r for r in approved if r.schedule is None]  # scheduled ones wait for their slot
        if waiting:
            self.start(waiting[-1].id, target)
