"""Units people write in the config and read in reports.

Durations ("2s", "15min", "1h30m") as seconds, and back; sizes ("10MB",
"1.5GB") as bytes, and bytes and row counts for people. Sizes are 1024-based,
as PostgreSQL's ``pg_size_pretty`` prints them, so a figure in a report
matches what an engineer sees in psql.
"""

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


_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?$")


def parse_size(text: str) -> int:
    """Bytes in ``text``; raises ``ValueError`` saying what form is expected."""
    match = _SIZE.match(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a size like '512MB', '1.5GB' or '2TB'")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2) or "b"])


def format_bytes(size: int) -> str:
    """'0 B', '812 kB', '3.1 GB': one decimal from MB up, like a person rounds."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.0f} {unit}" if unit == "kB" or value >= 100 else f"{value:.1f} {unit}"


def format_rows(rows: int) -> str:
    """'1 row', '4,800 rows', '12.4 M rows', '1.2 G rows'."""
    if rows == 1:
        return "1 row"
    if rows < 1_000_000:
        return f"{rows:,} rows"
    if rows < 1_000_000_000:
        return f"{rows / 1_000_000:.1f} M rows"
    return f"{rows / 1_000_000_000:.1f} G rows"


def format_count(count: int, noun: str) -> str:
    """'1 call', '1,204 calls': a count with its noun, for people."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
