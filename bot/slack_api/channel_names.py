"""Channel names for what the bot writes, so people read ``#migrate-ops``, never ``C0123``.

Looked up with ``conversations.info`` once per channel and kept: a channel's
name rarely changes, and a stale one still points at the right place (the
links made with it carry the id). A lookup Slack refuses (a private channel
the bot is not in, a missing scope, Slack down) answers ``None``: the caller
falls back to a ``<#C…>`` mention, which Slack draws with the name.
"""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class ChannelNames:
    """``name(channel_id)``: the channel's name without ``#``, or ``None``."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def name(self, channel: str) -> str | None:
        with self._lock:
            known = self._names.get(channel)
        if known is not None or not channel.startswith(("C", "G")):
            return known
        try:
            answer = self._client.conversations_info(channel=channel)
        except (SlackApiError, OSError) as exc:
            log.info("no name for channel %s: %s", channel, exc)
            return None
        name = str((answer.get("channel") or {}).get("name") or "") or None
        if name is not None:
            with self._lock:
                self._names[channel] = name
        return name
