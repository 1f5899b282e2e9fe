"""One computation for many askers: identical read-only jobs in flight are joined.

Twenty people typing ``/migrate plan prod`` in the same second would start
twenty Alembic child processes, each a second of CPU, on a machine that must
also acknowledge Slack within three seconds. A job asked for while the same
one (same key) is already running waits for that one and gets its answer (or
its error). Nothing is kept once the job ends, so an answer is never older
than the moment it was asked for minus one computation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class SharedWork:
    """``run(key, job)``: ``job()``'s result, computed once for callers that overlap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Hashable, Future[Any]] = {}
        self.joined = 0  # how many callers got another's answer (for /health and tests)

    def run(self, key: Hashable, job: Callable[[], T]) -> T:
        """Raises what ``job`` raised, to every caller that waited for it."""
        with self._lock:
            running = self._running.get(key)
            if running is None:
                mine: Future[T] = Future()
                self._running[key] = mine
            else:
                self.joined += 1
        if running is not None:
            answer: T = running.result()
            return answer
        try:
            result = job()
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        else:
            mine.set_result(result)
            return result
        finally:
            with self._lock:
                del self._running[key]
