"""A clock the tests move, and the seam that points APScheduler 3 at it.

``MovableClock`` is real time plus an offset: it keeps ticking (so durations,
backup names and timeouts behave), and ``jump_to`` moves it to any moment.
The bot takes it as its injected ``clock``.

APScheduler 3 has no clock parameter. Its scheduler reads the time in one
place that matters: ``datetime.now(self.timezone)`` in the module
``apscheduler.schedulers.base`` (to find due jobs and how long to sleep).
``apscheduler_reads(clock)`` binds that module's name ``datetime`` to a
subclass whose ``now()`` reads the clock, for the ``with`` block only; after
a jump, ``WindowScheduler.wakeup()`` makes it look again at once. We chose
this over a scheduler subclass because the time is read inside the long
private ``_process_jobs``, which a subclass could only copy. The executor's
misfire check (``apscheduler.executors.base``) also reads ``datetime.now``,
but our jobs have no misfire grace time (our code judges lateness with the
injected clock), so it is never consulted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo

import apscheduler.schedulers.base as aps_base


class MovableClock:
    """``datetime.now(UTC)`` shifted by an offset that ``jump_to`` sets."""

    def __init__(self, start: datetime) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()
        self.jump_to(start)

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def jump_to(self, moment: datetime) -> None:
        with self._lock:
            self._offset = moment - datetime.now(UTC)


@contextmanager
def apscheduler_reads(clock: MovableClock) -> Iterator[None]:
    """While open, APScheduler's scheduler takes its ``now`` from ``clock``."""
    real = aps_base.datetime

    class ClockedDatetime(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            moment = clock()
            return (
                moment.astimezone(tz)
                if tz is not None
                else moment.astimezone().replace(tzinfo=None)
            )

    aps_base.datetime = ClockedDatetime  # type: ignore[misc]
    try:
        yield
    finally:
        aps_base.datetime = real  # type: ignore[misc]
