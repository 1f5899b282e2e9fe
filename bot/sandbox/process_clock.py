"""How long this process has been running, so that "Ready in N s" counts from the
command, not from when the bot's modules had been loaded (which takes seconds)."""

from __future__ import annotations

import os
from pathlib import Path


def seconds_since_start() -> float | None:
    """Seconds since the kernel started this process (Linux's /proc); None elsewhere."""
    try:
        stat = Path("/proc/self/stat").read_text()
        started_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None
