"""A shared deployment's front: each acknowledged Slack request enqueued for a worker.

The job goes on the queue of the target the request is about, so the worker
that replays it (pre-flight, plan, status) is one placed where that target's
database is reachable: a slash command names its target; a click or a
modal names a request, whose target the shared log knows. A request about
no target (``/migrate help``) or an unknown one goes on the default queue,
where the worker answers as the embedded bot would.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from commands.errors import MigrateBotError
from commands.jobs.queue import JobQueue
from commands.requests import RequestService
from commands.requests.inputs import parse_request_id
from commands.slash.grammar import parse

log = logging.getLogger(__name__)


class Forwarder:
    """``forward(body)`` for ``build_app``: enqueue the request on its target's queue."""

    def __init__(self, queue: JobQueue, requests: RequestService) -> None:
        self.queue = queue
        self.requests = requests

    def __call__(self, body: Mapping[str, Any]) -> None:
        """Enqueue ``body``; raises ``StateUnreachableError`` (the asker is told it cannot be
        recorded now) when the shared state does not answer within a few seconds."""
        self.queue.check_reachable()  # before reading the request's target from the state
        target = self.target_of(body)
        job = self.queue.interaction(body, target=target)
        log.info("enqueued a Slack request as job %s (%s)", job, self.queue.queue_of(target))

    def target_of(self, body: Mapping[str, Any]) -> str | None:
        """The target ``body`` is about, if it names one (read only, never raises)."""
        if body.get("command"):
            try:
                return getattr(parse(str(body.get("text") or "")), "target", None)
            except MigrateBotError:
                return None
        view = body.get("view") or {}
        actions = body.get("actions") or [{}]
        for candidate in (view.get("private_metadata"), actions[0].get("value")):
            target = self._target_of_request(candidate)
            if target is not None:
                return target
        return None

    def _target_of_request(self, value: object) -> str | None:
        if not isinstance(value, str) or not value:
            return None
        try:
            return self.requests.get(parse_request_id(value)).target
        except MigrateBotError:
            return None
