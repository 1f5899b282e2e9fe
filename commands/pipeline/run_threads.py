"""This process's run threads: approved requests run in the background, for the Slack
front and the CLI alike.

Never in a Slack listener thread: a run can take minutes. One run per target
at a time (the database's run lock would refuse a second anyway; queuing here
gives a clear answer instead). A run can be cancelled, which aborts it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from commands.errors import ExitCode, MigrateBotError
from commands.migration.runtime.runner import AlembicSession
from commands.pipeline.context import RunContext
from commands.pipeline.progress import RunOutcome
from commands.pipeline.run import NO_WRAPPERS, RunWrappers, UpdateSink, run_request

log = logging.getLogger(__name__)

OutcomeSink = Callable[[RunOutcome], None]
RefusalSink = Callable[[str, MigrateBotError], None]


class Runs(Protocol):
    """Where approved requests are run: this process's ``RunThreads``, or a job queue."""

    def submit(self, request_id: str, target: str, *, until: datetime | None = None) -> None:
        """Start (or queue) the run; raises ``MigrateBotError`` when it cannot."""

    def cancel(self, request_id: str) -> bool:
        """Abort a run wherever it runs; ``False`` if it does not run."""

    def running(self) -> list[str]: ...

    def shutdown(self, *, cancel_running: bool = True) -> None: ...


class InternalRunError(MigrateBotError):
    """A run ended on a bug; its request is recorded failed, the log has the traceback."""

    def __init__(self, request_id: str, error: Exception) -> None:
        super().__init__(
            f"{request_id} stopped on an internal error ({type(error).__name__}: {error});"
            " it is recorded failed, and the log has the details"
        )


class AlreadyRunningError(MigrateBotError):
    """This process already runs a request on that target."""

    exit_code = ExitCode.REFUSED


@dataclass
class _Active:
    request_id: str
    target: str
    cancel: threading.Event
    future: Future[RunOutcome | None]


class RunThreads:
    """Background runs of ``run_request`` in ``context`` (with a front's ``wrappers``):
    ``submit`` returns at once; updates, outcomes and refusals go to sinks."""

    def __init__(
        self,
        context: RunContext,
        *,
        on_update: UpdateSink,
        on_outcome: OutcomeSink,
        on_refused: RefusalSink,
        wrappers: RunWrappers = NO_WRAPPERS,
        max_parallel: int = 4,
    ) -> None:
        self.context = context
        self.wrappers = wrappers
        self.on_update = on_update
        self.on_outcome = on_outcome
        self.on_refused = on_refused
        self._pool = ThreadPoolExecutor(max_parallel, thread_name_prefix="run")
        self._active: dict[str, _Active] = {}
        self._lock = threading.Lock()

    def submit(self, request_id: str, target: str, *, until: datetime | None = None) -> None:
        """Start running ``request_id`` in the background (``Runs``); as ``start``."""
        self.start(request_id, target, until=until)

    def start(
        self,
        request_id: str,
        target: str,
        *,
        until: datetime | None = None,
        session: AlembicSession | None = None,
        cancel: threading.Event | None = None,
    ) -> Future[RunOutcome | None]:
        """Start running ``request_id`` in the background (in ``session``, an Alembic
        child handed over by the caller, if given); ``cancel``, if given, is the run's
        own Stop (set from elsewhere: a queued job's abort).

        Raises ``AlreadyRunningError`` if this process runs something on ``target``.
        """
        with self._lock:
            busy = self._active.get(target)
            if busy is not None:
                raise AlreadyRunningError(
                    f"{busy.request_id} is running on {target}; wait for it to finish"
                )
            cancel = cancel or threading.Event()
            future = self._pool.submit(self._run, request_id, target, until, cancel, session)
            self._active[target] = _Active(request_id, target, cancel, future)
        return future

    def cancel(self, request_id: str) -> bool:
        """Abort a running request (its revision in flight is rolled back); False if not running."""
        with self._lock:
            for active in self._active.values():
                if active.request_id == request_id:
                    active.cancel.set()
                    return True
        return False

    def running(self) -> list[str]:
        with self._lock:
            return [a.request_id for a in self._active.values()]

    def shutdown(self, *, cancel_running: bool = True) -> None:
        """Stop taking work; abort what runs (so the database is left consistent) and wait."""
        if cancel_running:
            with self._lock:
                for active in self._active.values():
                    active.cancel.set()
        self._pool.shutdown(wait=True)

    def _run(
        self,
        request_id: str,
        target: str,
        until: datetime | None,
        cancel: threading.Event,
        session: AlembicSession | None,
    ) -> RunOutcome | None:
        try:
            outcome = run_request(
                self.context,
                request_id,
                on_update=self.on_update,
                until=until,
                cancel=cancel,
                session=session,
                wrappers=self.wrappers,
            )
        except MigrateBotError as refusal:
            self._deliver(self.on_refused, request_id, refusal)
            return None
        except Exception as exc:  # a bug: the run is recorded failed; whoever waits is told
            log.exception("run of %s failed unexpectedly", request_id)
            self._deliver(self.on_refused, request_id, InternalRunError(request_id, exc))
            raise
        finally:
            with self._lock:
                self._active.pop(target, None)
        self._deliver(self.on_outcome, outcome)
        return outcome

    @staticmethod
    def _deliver(sink: Callable[..., None], *args: object) -> None:
        try:
            sink(*args)
        except Exception:
            log.exception("a run outcome could not be delivered")
