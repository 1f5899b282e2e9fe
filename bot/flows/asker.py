"""Who asked for a request, and where: what both the request and the schedule flows take."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Asker:
    """Who asked and where: a Slack user in a channel, with the id Slack gave the ask."""

    user: str
    channel: str
    dedupe_key: str | None = None
