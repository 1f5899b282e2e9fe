"""Signed Slack requests for tests and benchmarks: slash commands and button clicks.

They are built and signed as Slack builds them (v0 signature over
``v0:timestamp:body`` with the signing secret), sent over real HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

# (channel, user) -> (trigger_id, response_url), e.g. LocalSlackServer.interaction_ids
MintIds = Callable[[str, str], tuple[str, str]]


def remote_ids(slack_url: str) -> MintIds:
    """``MintIds`` from a local Slack server in another process (``/_local/interaction``)."""

    def mint(channel: str, user: str) -> tuple[str, str]:
        request = urllib.request.Request(
            f"{slack_url}/_local/interaction",
            json.dumps({"channel": channel, "user": user}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            ids = json.load(answer)
        return ids["trigger_id"], ids["response_url"]

    return mint


@dataclass
class SlackSender:
    """Sends to the bot at ``bot_url`` as Slack would, with ids from ``mint``."""

    bot_url: str
    signing_secret: str
    mint: MintIds
    team_id: str = "T0LOCAL"
    last: dict[str, Any] = field(default_factory=dict)

    def command_body(self, text: str, *, user: str, channel: str) -> bytes:
        trigger_id, response_url = self.mint(channel, user)
        self.last = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "channel_id": channel,
            "user_id": user,
            "user_name": user.removeprefix("U0").lower(),  # U0ALICE -> alice
            "command": "/migrate",
            "text": text,
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        return urlencode(self.last).encode()

    def action_body(
        self,
        action_id: str,
        value: str | None,
        *,
        user: str,
        channel: str,
        message_ts: str = "1.0",
        block_id: str = "b",
        element: dict[str, Any] | None = None,
    ) -> bytes:
        """A click on a button (``value``), or on another element described by ``element``
        (e.g. ``{"type": "checkboxes", "selected_options": [...]}``)."""
        trigger_id, response_url = self.mint(channel, user)
        action: dict[str, Any] = {"type": "button", "action_id": action_id, "block_id": block_id}
        if value is not None:
            action["value"] = value
        action.update(element or {})
        payload = {
            "type": "block_actions",
            "team": {"id": self.team_id},
            "user": {"id": user},
            "channel": {"id": channel},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "trigger_id": trigger_id,
            "response_url": response_url,
            "actions": [action],
        }
        self.last = payload
        return urlencode({"payload": json.dumps(payload)}).encode()

    def event_body(self, event: dict[str, Any]) -> bytes:
        """An Events API callback carrying ``event`` (JSON, as Slack posts events)."""
        self.last = {
            "type": "event_callback",
            "team_id": self.team_id,
            "api_app_id": "A0LOCAL",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
        }
        return json.dumps(self.last).encode()

    def signed_headers(
        self, body: bytes, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """The headers Slack sends with ``body``: form type, timestamp (default now), signature."""
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(secret or self.signing_secret, stamp, body),
        }

    def post(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """POST ``body`` signed (with ``secret``, default the real one); status and text."""
        signed = self.signed_headers(body, timestamp=timestamp, secret=secret)
        if body.startswith(b"{"):  # an event: Slack posts those as JSON
            signed["Content-Type"] = "application/json"
        request = urllib.request.Request(
            f"{self.bot_url}/slack/events", data=body, headers={**signed, **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature of ``body`` (any bytes: hostile tests sign what Slack never sends)."""
    signed = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
