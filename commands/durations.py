"""Human durations in the config ("2s", "15min", "1h30m") as seconds, and back."""

from __future__ import annotations

import re

_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raises ``ValueError`` saying what form is expected."""
    compact = re.sub(r"\s+", "", text.lower())
    parts = list(_PART.finditer(compact))
    if not parts or "".join(p.group(0) for p in parts) != compact:
        raise ValueError(f"{text!r} is not a duration like '2s', '15min' or '1h30m'")
    return sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2)] for p in parts)


def format_duration(seconds: float) -> str:
    """A short human duration: '850 ms', '41.2 s', '12 min 5 s', '2 h 3 min'."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def postgres_interval(seconds: float) -> str:
    """The value PostgreSQL's ``lock_timeout``/``statement_timeout`` accept, in ms."""
    return f"{round(seconds * 1000)}ms"
