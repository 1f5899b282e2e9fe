"""Sizes in the config ("10MB", "1.5GB") as bytes, and bytes and row counts for people.

Units are 1024-based, as PostgreSQL's ``pg_size_pretty`` prints them, so a
figure in a report matches what an engineer sees in psql.
"""

from __future__ import annotations

import re

_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?$")


def parse_size(text: str) -> int:
    """Bytes in ``text``; raises ``ValueError`` saying what form is expected."""
    match = _SIZE.match(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a size like '512MB', '1.5GB' or '2TB'")
    return int(float(match.group(1)) * _UNITS[match.group(2) or "b"])


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
