"""What a backfill's WAL will cost the application, in words for the card and the terminal.

A quiet server keeps about ``min_wal_size`` of old WAL segments to recycle; a
backfill writing more makes it create new 16 MB segments, each zero-filled and
flushed under the WAL write lock that every application commit waits on
(``bench/backfill.py --recycled-wal`` measured the difference: docs/benchmarks.md).
"""

from __future__ import annotations

from commands.backfill.model import Estimate
from commands.units import format_bytes

SEGMENT_BYTES = 16 * 1024 * 1024  # PostgreSQL's default wal_segment_size


def wal_line(estimate: Estimate) -> str | None:
    """'about 520 MB of WAL' and, where it exceeds ``min_wal_size``, what to do first."""
    wal, kept = estimate.wal_bytes, estimate.min_wal_size
    if wal is None:
        return None
    line = f"about {format_bytes(wal)} of WAL"
    if kept is None or wal <= kept:
        return line
    segments = -(-(wal - kept) // SEGMENT_BYTES)  # rounded up
    return (
        f"{line}, more than min_wal_size ({format_bytes(kept)}): unless the"
        f" server has been writing as much lately, it creates about {segments:,} new WAL"
        " segments during the backfill, each zero-filled while the application's commits"
        f" wait; raising min_wal_size above {format_bytes(wal)} before it"
        " spares them"
    )
