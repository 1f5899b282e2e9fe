"""A link to another message inside a notification, filled in when that message is posted.

The approver's direct message is queued when the request is asked, before
Slack has given its request message a timestamp; the link to it
(``chat.getPermalink``) can only be made once it has one. So the text
holds a ``token``, and the notifier replaces it at delivery with
``<permalink|label>``, or with ``label`` alone (``fallback``, when given) when
the message never got posted or Slack gives no permalink.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Link:
    """Where ``token`` points: the outbox key of a message, and how to show the link."""

    token: str
    message: str
    label: str
    fallback: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Link:
        return cls(**{k: str(data[k]) for k in ("token", "message", "label", "fallback")})


def filled(payload: dict[str, Any], link: Link, permalink: str | None) -> dict[str, Any]:
    """``payload``'s text and blocks with the link in place of its token."""
    shown = f"<{permalink}|{link.label}>" if permalink else (link.fallback or link.label)
    encoded = json.dumps(shown)[1:-1]  # as it appears inside a JSON string
    blocks = payload.get("blocks")
    return {
        **payload,
        "text": str(payload.get("text") or "").replace(link.token, link.label),
        "blocks": json.loads(json.dumps(blocks).replace(link.token, encoded)) if blocks else blocks,
    }
