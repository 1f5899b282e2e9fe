"""Faults the local Slack server can be told to answer with: 429s, 5xx, slowness.

A fault matches a method (or ``*``), optionally only calls to one channel or
whose text holds some words, and is used ``times`` times (``None``: until
cleared). They are checked in the order they were added; ``used`` lists the
faults taken so far, so a test can act while a delayed call is in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

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
    channel: str | None = None  # only calls whose ``channel`` argument is this
    text_contains: str | None = None  # only calls whose ``text`` argument holds this

    def matches(self, method: str, args: Mapping[str, Any]) -> bool:
        return (
            self.method in (ANY, method)
            and (self.channel is None or args.get("channel") == self.channel)
            and (self.text_contains is None or self.text_contains in str(args.get("text", "")))
        )


class FaultPlan:
    """The faults still to be used, thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.used: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, args: Mapping[str, Any] | None = None) -> Fault | None:
        """The first fault for a call to ``method`` with ``args``, counting one use of it."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if not fault.matches(method, args or {}):
                    continue
                if fault.times is not None:
                    left = fault.times - 1
                    if left <= 0:
                        del self._faults[index]
                    else:
                        self._faults[index] = replace(fault, times=left)
                self.used.append(fault)
                return fault
            return None
