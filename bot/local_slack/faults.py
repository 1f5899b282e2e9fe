"""Faults the local Slack server can be told to answer with: 429s, 5xx, slowness.

A fault matches a method (or ``*``) and is used ``times`` times (``None``: until
cleared). They are checked in the order they were added.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

ANY = "*"


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or before) answering a call to ``method``.

    ``status`` 429 comes with ``Retry-After: retry_after``; any other status is
    an HTTP error with nothing done; ``error`` answers 200 ``ok: false`` with that
    Slack error code; ``delay`` waits first (longer than the client's timeout is
    a timeout). A fault with only a delay lets the call go through afterwards.
    """

    method: str = ANY
    status: int | None = None
    retry_after: int = 1
    error: str | None = None
    delay: float = 0.0
    times: int | None = 1

    @property
    def blocks_call(self) -> bool:
        return self.status is not None or self.error is not None


class FaultPlan:
    """The faults still to be used, thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str) -> Fault | None:
        """The first fault for ``method``, counting one use of it."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.method not in (ANY, method):
                    continue
                if fault.times is not None:
                    left = fault.times - 1
                    if left <= 0:
                        del self._faults[index]
                    else:
                        self._faults[index] = replace(fault, times=left)
                return fault
            return None
