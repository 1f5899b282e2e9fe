"""Exactly one scheduler across every process of a shared state, and a standby in the others.

The seat is a PostgreSQL session advisory lock held on a connection of its
own: whoever holds it runs the scheduler; the others try again every
``TAKE_EVERY_S``. When the holder dies its connection ends, PostgreSQL frees
the lock, and a standby takes over within that time (its scheduler then
reconciles the jobs with the log and reports a window missed meanwhile,
never running it late). A process that schedules a request while another
holds the seat tells the holder with ``NOTIFY`` on the same database; the
holder listens on its seat connection and plans the request's jobs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

import psycopg

from commands.errors import DatabaseUnavailableError
from commands.state.shared import SharedState

log = logging.getLogger(__name__)

SEAT_LOCK = "migrate_bot.scheduler"
CHANNEL = "migrate_bot_schedule"
TAKE_EVERY_S = 5.0
RECONCILE_EVERY_S = 60.0

Notice = Callable[[str, str], None]
"""``on_notice(action, request_id)``: another process planned (``plan``) or dropped
(``forget``) a request's jobs."""


class SchedulerSeat:
    """Holds (or waits for) the scheduler's lock; calls ``on_taken`` / ``on_lost``."""

    def __init__(
        self,
        shared: SharedState,
        *,
        on_taken: Callable[[], object],
        on_lost: Callable[[], None],
        on_notice: Notice,
        on_idle: Callable[[], None] = lambda: None,
        every: float = TAKE_EVERY_S,
        idle_every: float = RECONCILE_EVERY_S,
    ) -> None:
        self.shared = shared
        self.on_taken = on_taken
        self.on_lost = on_lost
        self.on_notice = on_notice
        self.on_idle = on_idle
        self.every = every
        self.idle_every = idle_every
        self.held = threading.Event()
        self._stop = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._idle_at = 0.0
        self._thread = threading.Thread(target=self._loop, name="scheduler-seat", daemon=True)

    def start(self) -> SchedulerSeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Give the seat up (a standby elsewhere takes it within ``every``)."""
        self._stop.set()
        self._thread.join(self.every + 5)
        self._let_go()

    def notify(self, action: str, request_id: str) -> None:
        """Tell the holder, wherever it runs, to ``plan`` or ``forget`` a request's jobs."""
        with self.shared.pool.connection() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{action}:{request_id}"))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.held.is_set():
                    self._serve()
                elif not self._try_take():
                    self._stop.wait(self.every)
            except (psycopg.Error, DatabaseUnavailableError) as exc:  # the state went away
                log.warning("the scheduler's seat was lost (%s): trying again", exc)
                self._let_go()
                self._stop.wait(self.every)

    def _try_take(self) -> bool:
        if self._conn is None:
            self._conn = self.shared.connect(f"migrate-bot scheduler {os.getpid()}")
        row = self._conn.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (SEAT_LOCK,)
        ).fetchone()
        if not (row and row[0]):
            return False
        self._conn.execute(f"LISTEN {CHANNEL}")
        self.held.set()
        self._idle_at = time.monotonic()
        log.info("this process holds the scheduler")
        self.on_taken()
        return True

    def _serve(self) -> None:
        """While held: hear other processes' notices; check the connection now and then."""
        assert self._conn is not None
        for notice in self._conn.notifies(timeout=self.every):
            action, _, request_id = notice.payload.partition(":")
            try:
                self.on_notice(action, request_id)
            except Exception:
                log.exception("the scheduler could not %s %s", action, request_id)
            if self._stop.is_set():
                return
        self._conn.execute("SELECT 1")  # raises if the lock's connection is gone
        if time.monotonic() - self._idle_at >= self.idle_every:
            self._idle_at = time.monotonic()
            self.on_idle()

    def _let_go(self) -> None:
        if self.held.is_set():
            self.held.clear()
            self.on_lost()
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()  # closing ends the session: the lock is free
            self._conn = None
