"""What the local Slack workspace holds and answers with: messages, ephemerals, changes,
recorded calls, Slack's error codes, and how Web API arguments are read.

Kept apart from ``workspace`` (the state and its methods) so that file holds
one thing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

BOT_USER = "U0MIGRATEBOT"
BOT_ID = "B0MIGRATEBOT"


class SlackMethodError(Exception):
    """A Web API method answered ``ok: false`` with this Slack error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Message:
    """A message in a channel; a reply when ``thread_ts`` differs from ``ts``."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    user: str = BOT_USER
    thread_ts: str | None = None
    reply_count: int = 0
    edited: bool = False
    files: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None  # chat.postMessage's ``metadata``

    def as_json(self) -> dict[str, Any]:
        return {"type": "message", "bot_id": BOT_ID, **asdict(self)}


@dataclass
class Ephemeral:
    """A message only ``user`` sees, in ``channel``."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"type": "ephemeral", **asdict(self)}


@dataclass(frozen=True)
class Change:
    """One thing that changed, numbered: ``kind`` is e.g. ``message_posted``."""

    seq: int
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RecordedCall:
    """One request the server received (token never recorded), and its answer."""

    method: str
    args: dict[str, Any]
    at: float
    status: int
    response: dict[str, Any]


def content(args: Mapping[str, Any]) -> tuple[str, list[Any]]:
    text = args.get("text")
    blocks = args.get("blocks")
    if blocks is not None and not isinstance(blocks, list):
        raise SlackMethodError("invalid_blocks_format")
    if not text and not blocks:
        raise SlackMethodError("no_text")
    return str(text or ""), copy.deepcopy(blocks or [])


def view_of(args: Mapping[str, Any]) -> dict[str, Any]:
    view = args.get("view")
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise SlackMethodError("invalid_arguments")
    return copy.deepcopy(view)


def page(messages: list[Message], args: Mapping[str, Any], *, newest_first: bool) -> dict[str, Any]:
    """One page (``limit``, default 100) of ``messages`` as the conversations methods answer."""
    limit = int(args.get("limit") or 100)
    ordered = sorted(messages, key=lambda m: float(m.ts), reverse=newest_first)
    with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
    page = []
    for message in ordered[:limit]:
        shown = message.as_json()
        if not with_metadata or shown["metadata"] is None:
            del shown["metadata"]
        page.append(shown)
    return {"messages": page, "has_more": len(ordered) > limit}
