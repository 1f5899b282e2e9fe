"""Bolt middleware: remembers the name each request gives its user, for the terminal.

``migrate-bot audit`` and ``requests`` name people as Slack does ("alice"),
not only by id; the CLI cannot ask Slack, so the names are kept beside the
audit log (``commands.state.people``) as requests arrive. A name is written
only when it is new or changed, so a click costs a dictionary look-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from commands.state.people import Directory

log = logging.getLogger(__name__)


class NameRecorder(Middleware):
    """Records ``user id → name`` from slash commands and interactions, then goes on."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._seen: dict[str, str] = {}
        self._lock = threading.Lock()

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        found = named_user(req.body)
        if found is not None:
            self._record(*found)
        return next()

    def _record(self, user_id: str, name: str) -> None:
        with self._lock:
            if self._seen.get(user_id) == name:
                return
            self._seen[user_id] = name
        try:
            self._directory.remember(user_id, name)
        except Exception as exc:  # a name is a convenience: never fail a request for it
            log.warning("could not record the name of %s: %s", user_id, exc)


def named_user(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(user id, name)`` as a slash command (``user_name``) or an interaction
    (``user.name`` / ``user.username``) gives it, else ``None``."""
    user = body.get("user")
    if isinstance(user, Mapping):
        user_id, name = user.get("id"), user.get("name") or user.get("username")
    else:
        user_id, name = body.get("user_id"), body.get("user_name")
    if isinstance(user_id, str) and isinstance(name, str) and user_id and name:
        return user_id, name
    return None
