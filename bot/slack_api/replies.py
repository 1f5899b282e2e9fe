"""Answers to the person who asked: ephemeral messages, modals, files in their DM.

An ephemeral answer goes through the interaction's ``response_url`` (it works
in any channel, even one the bot is not in), and through
``chat.postEphemeral`` when there is none or it has expired. The Web API
client retries 429s (honouring ``Retry-After``), 5xx and dropped connections.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.invocation import Invocation
from bot.metrics.slack_errors import SLACK_API_ERRORS

log = logging.getLogger(__name__)

TIMEOUT_S = 10


def retry_handlers() -> list[Any]:
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=2),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


class CountingWebClient(WebClient):
    """A ``WebClient`` that counts the calls that fail (after its retries), by method and
    error, for ``migrate_bot_slack_api_errors_total``."""

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
            SLACK_API_ERRORS.labels(api_method, error[:64]).inc()
            raise
        except OSError:  # no answer: refused, reset, timed out (urllib's errors are OSErrors)
            SLACK_API_ERRORS.labels(api_method, "network").inc()
            raise


def web_client(token: str | None, base_url: str) -> WebClient:
    """A Web API client for ``base_url`` that retries what is worth retrying."""
    return CountingWebClient(
        token=token, base_url=base_url, timeout=TIMEOUT_S, retry_handlers=retry_handlers()
    )


class Replier:
    """Replies to one ``Invocation`` through ``client``."""

    def __init__(self, client: WebClient, invocation: Invocation) -> None:
        self.client = client
        self.invocation = invocation

    def ephemeral(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Show ``blocks`` (``text`` in notifications) to the asker only."""
        url = self.invocation.response_url
        if url:
            hook = WebhookClient(url, timeout=TIMEOUT_S, retry_handlers=retry_handlers())
            answer = hook.send(text=text, blocks=blocks, response_type="ephemeral")
            if answer.status_code == 200:
                return
            log.info("response_url answered %s; using chat.postEphemeral", answer.status_code)
        self.client.chat_postEphemeral(
            channel=self.invocation.channel_id or self.invocation.user_id,
            user=self.invocation.user_id,
            text=text,
            blocks=blocks,
        )

    def open_modal(self, view: dict[str, Any]) -> str:
        """Open ``view`` on the interaction's trigger; returns the view id."""
        answer = self.client.views_open(trigger_id=self.invocation.trigger_id, view=view)
        return str(answer["view"]["id"])

    def update_modal(self, view_id: str, view: dict[str, Any]) -> None:
        self.client.views_update(view_id=view_id, view=view)

    def send_file(self, *, content: str, filename: str, title: str, comment: str) -> None:
        """Upload ``content`` as a file into the asker's DM with the bot."""
        opened = self.client.conversations_open(users=self.invocation.user_id)
        self.client.files_upload_v2(
            channel=opened["channel"]["id"],
            content=content,
            filename=filename,
            title=title,
            initial_comment=comment,
        )


class HomeReplier(Replier):
    """Replies to a click on the App Home tab: the tab is drawn again with the answer on top
    (a home tab has no channel to post an ephemeral message in)."""

    def __init__(
        self, client: WebClient, invocation: Invocation, publish: Callable[[str, str], None]
    ) -> None:
        super().__init__(client, invocation)
        self._publish = publish

    def ephemeral(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self._publish(self.invocation.user_id, text)
