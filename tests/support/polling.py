"""Waiting for asynchronous effects with a deadline, never sleeping and hoping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "the bot") -> Any:
    """Poll ``check`` until it returns something truthy, and return that.

    A ``RuntimeError`` from ``check`` (a dict another thread changed while it was
    read) counts as "not yet". Fails the test after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except RuntimeError:
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
