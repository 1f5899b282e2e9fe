"""Identical jobs in flight share one computation; nothing is kept after it ends."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.listeners.shared_work import SharedWork


def test_callers_that_overlap_get_one_computation_and_later_ones_a_fresh_one() -> None:
    shared, started, release = SharedWork(), threading.Event(), threading.Event()
    calls: list[int] = []

    def job() -> int:
        calls.append(1)
        started.set()
        release.wait(10)
        return len(calls)

    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(shared.run, "plan demo", job)
        assert started.wait(10)
        others = [pool.submit(shared.run, "plan demo", job) for _ in range(4)]
        while shared.joined < 4:
            threading.Event().wait(0.01)
        release.set()
        assert [f.result(10) for f in [first, *others]] == [1] * 5
    assert shared.run("plan demo", job) == 2  # not cached: asked again, computed again


def test_an_error_reaches_every_caller_and_is_not_kept() -> None:
    shared = SharedWork()

    def broken() -> int:
        raise ValueError("no database")

    with pytest.raises(ValueError, match="no database"):
        shared.run("status demo", broken)
    assert shared.run("status demo", lambda: 7) == 7
