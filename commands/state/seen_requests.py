"""Slack request ids already taken, shared by every worker: a retry that reached another
front, or two fronts given the same click, is acted on once.

Slack retries a request it saw no answer to within three seconds, with the
same ``event_id`` or ``trigger_id``. Fronts acknowledge and enqueue; the
worker replaying a request records its id with a conditional insert in the
shared state first, and a replay whose insert lost is dropped. Ids older than ``ttl`` (Slack's
retries come within five minutes) are deleted as new ones come in.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg_pool

TTL_S = 600.0
PRUNE_EVERY = 500  # inserts between two deletions of expired ids


class SharedSeenRequests:
    """``seen_before(key)`` on the ``slack_requests_seen`` table of the shared state."""

    def __init__(
        self,
        pool: psycopg_pool.ConnectionPool,
        *,
        ttl: float = TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._ttl = ttl
        self._clock = clock
        self._inserts = 0

    def seen_before(self, key: str) -> bool:
        """Record ``key``; ``True`` if a front (this one or another) already had it."""
        now = self._clock()
        with self._pool.connection() as conn:
            inserted = conn.execute(
                "INSERT INTO slack_requests_seen (key, seen_at) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET seen_at = EXCLUDED.seen_at"
                " WHERE slack_requests_seen.seen_at < %s",
                (key, now, now - self._ttl),
            ).rowcount
            self._inserts += 1
            if self._inserts % PRUNE_EVERY == 0:
                conn.execute(
                    "DELETE FROM slack_requests_seen WHERE seen_at < %s", (now - self._ttl,)
                )
        return inserted == 0
