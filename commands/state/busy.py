"""Writing to the state while another process holds the SQLite file past its busy timeout.

A record that ends something (a run's outcome, a backup's end) must not be lost because
the file was busy for a while: it is tried again, each try waiting out the busy timeout,
for up to ``WRITE_PATIENCE_S``; past that the busy error is raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable

WRITE_PATIENCE_S = 15 * 60  # a run or a backup is over; without its record nobody knows


def write_when_free(
    write: Callable[[], None],
    *,
    busy: type[Exception],
    waiting: Callable[[], None],
    patience_s: float = WRITE_PATIENCE_S,
) -> None:
    """``write()``, tried again after each ``busy`` error (``waiting()`` is called between
    tries, to say so and, if it likes, to pause) until ``patience_s`` have passed."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            write()
            return
        except busy:
            if time.monotonic() > deadline:
                raise
            waiting()
