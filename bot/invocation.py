"""Who asked, from where, and how to answer them: read once from a Slack payload."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Invocation:
    """The parts of a slash command or an interaction that a reply needs."""

    user_id: str
    channel_id: str | None = None
    team_id: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    message_ts: str | None = None
    surface: str | None = None  # "home" for a click on the App Home tab, "modal" in a modal
    view_id: str | None = None  # a click in a modal: the modal, to update it
    view_metadata: str | None = None  # and its private_metadata (only ever an id)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Invocation:
        """From a slash command's form or an interaction's payload (both shapes)."""
        user = body.get("user") or {}
        channel = body.get("channel") or {}
        team = body.get("team") or {}
        container = body.get("container") or {}
        view = body.get("view")
        return cls(
            user_id=str(body.get("user_id") or _get(user, "id") or ""),
            channel_id=body.get("channel_id")
            or _get(channel, "id")
            or _get(container, "channel_id"),
            team_id=body.get("team_id") or _get(team, "id"),
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
            message_ts=_get(container, "message_ts"),
            surface=_get(view, "type") if body.get("type") == "block_actions" else None,
            view_id=_get(view, "id"),
            view_metadata=_get(view, "private_metadata"),
        )


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None
