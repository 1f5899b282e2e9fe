"""A front freezes its start-up heap, and what start-up left as garbage is freed first."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc, weakref
from bot.start_up_heap import freeze_start_up_heap

class Node:
    pass

garbage = Node()
garbage.self = garbage  # a cycle only the collector frees
gone = weakref.ref(garbage)
del garbage
freeze_start_up_heap()
print(gone() is None, gc.get_freeze_count() > 1000)
"""


def test_garbage_is_freed_and_the_rest_frozen() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )  # a process of its own: freezing pytest's heap would outlive the test
    assert done.stdout.split() == ["True", "True"]
