"""Bolt middleware: a request Slack sends twice (``X-Slack-Retry-Num``) acts once.

Slack retries when it did not see our answer in three seconds; the retry
carries the same ``event_id`` or ``trigger_id``. Seen ids are kept for ten
minutes (Slack's retries come within five); a repeat is answered 200 and
dropped. In a shared deployment the workers' filter keeps the ids in the
shared PostgreSQL instead (``commands.state.seen_requests``): a retry that
reached another front, or two fronts given the same click, act once. This
guards read-only work; state changes are also guarded where they are
written (conditional transitions in the audit log).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

log = logging.getLogger(__name__)

TTL_S = 600.0

SeenBefore = Callable[[str], bool]
"""Record an id; ``True`` if it was already recorded (and not yet expired)."""


class DuplicateFilter(Middleware):
    """Drops a request whose ``event_id`` or ``trigger_id`` was seen in the last ``ttl`` s."""

    def __init__(
        self,
        *,
        ttl: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
        seen_before: SeenBefore | None = None,
    ) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._seen_before = seen_before or self.seen_before

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        key = req.body.get("event_id") or req.body.get("trigger_id")
        if isinstance(key, str) and key and self._seen_before(key):
            log.info("dropping a repeat of %s", key)
            return BoltResponse(status=200, body="")
        return next()

    def seen_before(self, key: str) -> bool:
        """Remember ``key``; ``True`` if it was already there (and not yet expired)."""
        now = self._clock()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - self._ttl:
                self._seen.popitem(last=False)
            if key in self._seen:
                return True
            self._seen[key] = now
            return False
