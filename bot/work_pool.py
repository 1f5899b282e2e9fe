"""The work pool: where listeners hand their work after ``ack()``, a small pool of threads.

Bolt's own listener pool has a handful of threads and Slack wants an answer
in three seconds, so nothing slow runs in a listener. A job's failure goes to
its ``on_error`` (the error reporter), never lost in a future nobody reads.

Answers come first: a job starts once no Slack request is being answered
(``answering``), or after ``QUIET_WAIT_S`` at most. In a burst (twenty people
clicking at once) the acknowledgements go out before the work they started
takes the CPU (and, in Python, the interpreter lock) from the next ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from commands.background import BACKGROUND_NICE, mark_background

log = logging.getLogger(__name__)

Job = Callable[[], None]
ErrorSink = Callable[[BaseException], None]
QUIET_WAIT_S = 0.25


class Answering:
    """How many Slack requests are being answered now, and a wait for none."""

    def __init__(self) -> None:
        self._count = 0
        self._quiet = threading.Condition()

    @contextmanager
    def one(self) -> Iterator[None]:
        with self._quiet:
            self._count += 1
        try:
            yield
        finally:
            with self._quiet:
                self._count -= 1
                if not self._count:
                    self._quiet.notify_all()

    def wait_quiet(self, timeout: float) -> bool:
        """Wait until nothing is being answered; ``False`` if ``timeout`` passed first."""
        with self._quiet:
            return self._quiet.wait_for(lambda: self._count == 0, timeout)


answering = Answering()

_held: ContextVar[list[Job] | None] = ContextVar("held_jobs", default=None)


@contextmanager
def holding_jobs() -> Iterator[list[Job]]:
    """Jobs submitted inside are not started but collected: start them with
    ``release`` once the HTTP answer has gone, so they never compete with it."""
    held: list[Job] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


def release(held: list[Job]) -> None:
    for start in held:
        start()


class WorkPool(Protocol):
    """What listeners need from the pool their work goes to."""

    def submit(self, job: Job, *, name: str, on_error: ErrorSink) -> None: ...


class ThreadWorkPool:
    """Jobs on ``max_workers`` threads, with counts for ``/health`` and ``drain`` for tests.

    On Linux the processes the jobs start (Alembic's children) run at a lower
    CPU priority (``nice``, see ``commands.background``): on a small machine,
    acknowledging Slack within three seconds comes before planning. The
    threads keep the process's priority, so none holds the interpreter lock
    while the kernel keeps it waiting.
    """

    def __init__(
        self, max_workers: int = 8, *, nice: int = BACKGROUND_NICE, quiet_wait: float = QUIET_WAIT_S
    ) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers,
            thread_name_prefix="migrate-bot-work",
            initializer=mark_background,
            initargs=(nice,),
        )
        self._quiet_wait = quiet_wait
        self._idle = threading.Condition()
        self._pending = 0
        self.failed = 0

    def submit(self, job: Job, *, name: str, on_error: ErrorSink) -> None:
        with self._idle:
            self._pending += 1
        held = _held.get()
        if held is not None:
            held.append(lambda: self._start(job, name, on_error))
        else:
            self._start(job, name, on_error)

    def _start(self, job: Job, name: str, on_error: ErrorSink) -> None:
        future: Future[None] = self._pool.submit(self._run, job, name, on_error)
        future.add_done_callback(lambda _f: self._finish())

    def _run(self, job: Job, name: str, on_error: ErrorSink) -> None:
        answering.wait_quiet(self._quiet_wait)
        try:
            job()
        except BaseException as exc:
            self.failed += 1
            try:
                on_error(exc)
            except Exception:
                log.exception("reporting the failure of job %s failed too", name)

    def _finish(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return self._pending

    def drain(self, timeout: float) -> bool:
        """Wait until no job is queued or running; ``False`` if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


def background_priority() -> None:
    """What this thread starts yields the CPU to answering Slack: a fleet's members run
    in such threads."""
    mark_background(BACKGROUND_NICE)


class InlineWorkPool:
    """Runs each job at once, in the caller's thread: a worker process replaying a
    Slack request inside a queued job, where the job's thread is the work's thread."""

    pending = 0
    failed = 0

    def submit(self, job: Job, *, name: str, on_error: ErrorSink) -> None:
        try:
            job()
        except Exception as exc:
            self.failed += 1
            log.warning("%s failed: %s", name, type(exc).__name__)
            on_error(exc)
