"""How big the next batch is and how long to wait before it. Pure.

Batches are sized so that each takes about ``batch_time``: a batch's row locks
are held until it commits, so its duration is the longest any application
write waits on it. The size moves by at most a factor of two per batch, so one
slow batch (a checkpoint, a cold cache) does not swing it wildly. Sessions
seen waiting on a batch's rows halve the next one and give their queue the
batch's own duration to drain; ``nice_ratio`` rests a share of each batch's
time (gh-ost's knob of the same name); a rows-per-second cap waits out the
rest of each batch's share of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.config.backfill import BackfillSpec

MIN_BATCH = 10
MAX_BACKOFF_S = 5.0


@dataclass(frozen=True)
class Pace:
    """The next batch's size (keys walked) and the pause before it."""

    size: int
    wait_s: float = 0.0


def after_batch(spec: BackfillSpec, *, size: int, rows: int, seconds: float, waiters: int) -> Pace:
    """The pace after a batch of ``size`` keys that updated ``rows`` in ``seconds`` while
    ``waiters`` sessions waited on its locks."""
    ideal = size * spec.batch_time / max(seconds, 0.001)
    following = min(max(ideal, size / 2), size * 2)
    wait = seconds * spec.nice_ratio
    if waiters:
        following = min(following, size / 2)
        wait = max(wait, seconds)
    if spec.max_rows_per_second:
        wait = max(wait, rows / spec.max_rows_per_second - seconds)
    return Pace(_clamp(spec, following), wait)


def after_failure(spec: BackfillSpec, *, size: int, failures: int) -> Pace:
    """After a batch that timed out or was cancelled (``failures`` in a row): half the size,
    and a pause that doubles each time, up to ``MAX_BACKOFF_S``."""
    return Pace(_clamp(spec, size / 2), min(0.1 * 2 ** (failures - 1), MAX_BACKOFF_S))


def _clamp(spec: BackfillSpec, size: float) -> int:
    return int(min(max(size, MIN_BATCH), spec.max_batch_size))


def eta_seconds(*, walked: int, total: int, seconds: float) -> float | None:
    """Seconds left at the rate so far (keys walked per second of running); None before
    there is a rate."""
    if walked <= 0 or seconds <= 0:
        return None
    return max(total - walked, 0) / (walked / seconds)
