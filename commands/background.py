"""Work that can wait: the processes a background thread starts run at a lower CPU priority.

A bot answers Slack in one process and does the work it was asked for in
threads beside the answers. The threads themselves keep the process's
priority: a thread that holds Python's interpreter lock while the kernel
keeps it off the CPU (as it keeps a lowered thread on a busy machine) makes
every answer wait for the lock. What the work starts, Alembic's child
processes above all (a second or so of CPU each), holds no lock of ours and
is lowered instead: a thread marks itself (``mark_background``), and the
process it starts is lowered right after it starts (``lower``). Linux only;
elsewhere nothing changes.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

BACKGROUND_NICE = 19
_thread = threading.local()


def mark_background(nice: int = BACKGROUND_NICE) -> None:
    """The processes this thread starts from now on run at ``nice``."""
    _thread.nice = nice


def lower(pid: int) -> None:
    """Give the process ``pid`` this thread's background priority, if it has one."""
    nice = getattr(_thread, "nice", 0)
    if not nice or sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, max(os.getpriority(os.PRIO_PROCESS, pid), nice))
    except OSError as exc:  # it ended already, or lowering is not allowed here
        log.info("could not lower the priority of process %d: %s", pid, exc)
