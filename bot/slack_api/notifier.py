"""Posts and updates Slack messages from the outbox, within Slack's rate limits.

Callers never wait on Slack: ``post``/``update``/``ephemeral`` write to the
outbox and return a key at once; a delivery thread sends what is due.

- Updates to one message are coalesced: at most one ``chat.update`` per
  message per ``min_update_interval`` (chat.update is a Tier 3 method, about
  50 a minute), carrying the latest content; intermediate states are skipped.
- A 429 pauses that method until its ``Retry-After``; 5xx, timeouts and
  dropped connections are retried with capped exponential back-off (with
  jitter); errors Slack will repeat forever (``channel_not_found``,
  ``invalid_blocks``…) mark the notification ``dead`` with the reason.
- Updates and thread replies wait for the post they refer to, so a run's
  live status can start while Slack is down and catch up when it returns.
- An update that failed is dropped once a newer one for the same message
  is queued: a retry never puts an older picture back over a newer one.
- A post may link to another message (``Link``): it waits for that message to
  be posted, then the link is made with ``chat.getPermalink``.
- Each post carries its outbox key in Slack's message ``metadata``. A post
  whose answer never came (a timeout, or a crash mid-send: ``uncertain``) is
  first looked for in the channel's history (or the thread): if Slack took
  it, it is not posted again. After a restart such posts wait
  ``uncertain_wait`` first, so a call still in flight at Slack has landed.
  After a read timeout the look waits at least the client's timeout
  again, so a slow answer has landed before it is looked for.
- With a shared state, every worker runs a notifier on the one outbox
  (``claim_timeout``): a row is claimed by one sender, and a claim older
  than any send can take is a dead worker's, sent again as uncertain.
"""

from __future__ import annotations

import http.client
import logging
import random
import secrets
import threading
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_api.links import Link, filled
from commands.state.outbox import Delivery, Kind, Outbox, OutboxBusyError, State

__all__ = ["Backoff", "Link", "Notifier"]

log = logging.getLogger(__name__)

# ok:false answers that a later try can fix (a revoked token replaced, a
# workspace restored); every other error code is final for that message.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "account_inactive",
        "team_added_to_org",
    }
)
METHODS = {
    Kind.POST: "chat.postMessage",
    Kind.UPDATE: "chat.update",
    Kind.EPHEMERAL: "chat.postEphemeral",
}
NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException)
METADATA_EVENT = "migrate_bot_notification"
LOOKBACK = 100  # messages read back to find a post a crash left uncertain
UNCERTAIN_WAIT_S = 10.0  # after a restart, before looking for a post caught mid-send


@dataclass(frozen=True)
class Backoff:
    """Delay before try ``n`` (from 1): ``base * 2**(n-1)``, capped, times 0.5 to 1 (jitter)."""

    base: float = 1.0
    cap: float = 300.0

    def delay(self, attempt: int, draw: float) -> float:
        exponential: float = self.base * 2 ** max(0, attempt - 1)
        return min(self.cap, exponential) * (0.5 + draw / 2)


class Notifier:
    """The outbox's sender. ``start()`` a delivery thread, or call ``deliver_due()``."""

    def __init__(
        self,
        client: WebClient,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.time,
        min_update_interval: float = 1.0,
        backoff: Backoff = Backoff(),
        draw: Callable[[], float] = random.random,
        key_factory: Callable[[], str] = lambda: secrets.token_hex(8),
        uncertain_wait: float = UNCERTAIN_WAIT_S,
        claim_timeout: float | None = None,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._clock = clock
        self._interval = min_update_interval
        self._backoff = backoff
        self._draw = draw
        self._new_key = key_factory
        self._paused_until: dict[str, float] = {}
        self._last_update: dict[str, float] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._uncertain_wait = uncertain_wait
        self._claim_timeout = claim_timeout
        self._outbox.recover(not_before=clock() + uncertain_wait, claimed_before=self._stale())

    def _stale(self) -> float | None:
        """Claims older than this were a dead sender's (``None``: every claim at start-up,
        when this process is the only sender)."""
        return None if self._claim_timeout is None else self._clock() - self._claim_timeout

    # --- what callers use ----------------------------------------------------

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        thread: str | None = None,
        key: str | None = None,
        link: Link | None = None,
    ) -> str:
        """Queue a message to ``channel`` (a user id posts to their DM), or a reply in
        the thread of the message ``thread``; ``link`` is filled in once the message it
        points to is posted. Returns its key; a known ``key`` is not queued again."""
        key = key or f"post:{self._new_key()}"
        payload: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
        if link is not None:
            payload["link"] = link.to_json()
        self._enqueue(key, Kind.POST, payload, message=thread)
        return key

    def update(self, message: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Queue new content for the message ``message``; replaces an update not yet sent."""
        payload = {"text": text, "blocks": blocks}
        if not self._outbox.replace_pending_update(message=message, payload=payload):
            self._enqueue(f"update:{self._new_key()}", Kind.UPDATE, payload, message=message)

    def ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        payload = {"channel": channel, "user": user, "text": text, "blocks": blocks}
        self._enqueue(f"ephemeral:{self._new_key()}", Kind.EPHEMERAL, payload)

    def knows(self, key: str) -> bool:
        """Whether a notification with ``key`` was ever queued (delivered or not)."""
        return self._outbox.state_of(key) is not None

    def location(self, message: str) -> tuple[str, str] | None:
        """Channel and ts of a delivered post (for links), else ``None``."""
        return self._outbox.location(message)

    def _enqueue(
        self, key: str, kind: Kind, payload: dict[str, Any], message: str | None = None
    ) -> None:
        self._outbox.enqueue(
            key=key, kind=kind, payload=payload, message=message, now=self._clock()
        )
        self._wake.set()

    # --- delivery --------------------------------------------------------------

    def deliver_due(self) -> int:
        """Send everything due now, oldest first; returns how many were delivered."""
        delivered = 0
        if self._claim_timeout is not None:  # a shared outbox: a dead worker's claims
            self._outbox.recover(
                not_before=self._clock() + self._uncertain_wait, claimed_before=self._stale()
            )
        for due in self._outbox.due(self._clock()):
            if self._stopping.is_set():
                break
            if self._waiting(due):
                continue
            payload = self._outbox.claim(due.id, now=self._clock())
            if payload is not None:
                delivered += self._send(replace(due, payload=payload))
        return delivered

    def _waiting(self, delivery: Delivery) -> bool:
        """True when the method is paused or the message referred to is not posted yet."""
        now = self._clock()
        if self._paused_until.get(METHODS[delivery.kind], 0.0) > now:
            return True
        if delivery.message and self._outbox.location(delivery.message) is None:
            parent = self._outbox.state_of(delivery.message)
            if parent is None or parent[0] is State.DEAD:
                self._outbox.dead(delivery.id, error=f"{delivery.message} was never posted")
            return True
        if delivery.kind is Kind.UPDATE:
            ready_at = self._last_update.get(delivery.message or "", 0.0) + self._interval
            if ready_at > now:
                return True
        return self._link_pending(delivery)

    def _link_pending(self, delivery: Delivery) -> bool:
        """True while the message a post links to may still be posted."""
        link = delivery.payload.get("link")
        if not link or self._outbox.location(str(link["message"])) is not None:
            return False
        parent = self._outbox.state_of(str(link["message"]))
        return parent is not None and parent[0] is not State.DEAD

    def _with_link(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` with its link made (the fallback when the message never got posted);
        raises what a later try may fix (429, 5xx)."""
        link = Link.from_json(payload.pop("link"))
        where = self._outbox.location(link.message)
        permalink = None
        if where is not None:
            try:
                answer = self._client.chat_getPermalink(channel=where[0], message_ts=where[1])
                permalink = str(answer["permalink"])
            except SlackApiError as exc:
                status = exc.response.status_code
                if status == 429 or status >= 500 or exc.response.get("error") in TRANSIENT_ERRORS:
                    raise
                log.warning("no permalink for %s: %s", link.message, exc.response.get("error"))
        return filled(payload, link, permalink)

    def _send(self, delivery: Delivery) -> int:
        try:
            channel, ts = self._call(delivery)
        except SlackApiError as exc:
            self._failed(delivery, exc)
            return 0
        except NETWORK_ERRORS as exc:  # no answer: a post may have been taken all the same
            uncertain = delivery.kind is Kind.POST
            # a read timeout: Slack has the call and may still be handling it
            slow = uncertain and isinstance(exc, TimeoutError)
            self._retry(delivery, f"{type(exc).__name__}: {exc}", uncertain=uncertain, slow=slow)
            return 0
        if delivery.kind is Kind.UPDATE:
            self._last_update[delivery.message or ""] = self._clock()
        self._outbox.delivered(delivery.id, channel=channel, ts=ts)
        return 1

    def _call(self, delivery: Delivery) -> tuple[str | None, str | None]:
        payload = delivery.payload
        if delivery.kind is Kind.EPHEMERAL:
            self._client.chat_postEphemeral(**payload)
            return payload["channel"], None
        where = self._outbox.location(delivery.message) if delivery.message else None
        if delivery.kind is Kind.UPDATE:
            assert where is not None
            self._client.chat_update(channel=where[0], ts=where[1], **payload)
            return None, None
        if payload.get("link"):
            payload = self._with_link(dict(payload))
        channel = payload["channel"]
        if channel[0] in "UW":
            channel = self._client.conversations_open(users=channel)["channel"]["id"]
        thread_ts = where[1] if where else None
        if delivery.uncertain:
            posted = self._posted_before(delivery.key, channel, thread_ts)
            if posted is not None:
                log.info("notification %s was posted before the restart: not again", delivery.key)
                return channel, posted
        answer = self._client.chat_postMessage(
            channel=channel,
            text=payload["text"],
            blocks=payload["blocks"],
            thread_ts=thread_ts,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"key": delivery.key}},
        )
        return str(answer["channel"]), str(answer["ts"])

    def _posted_before(self, key: str, channel: str, thread_ts: str | None) -> str | None:
        """The ts of the post ``key`` if Slack has it (found by its metadata), else None.

        Raises what a try may fix later (429, 5xx, network: the delivery is retried,
        still uncertain); when Slack refuses to show the history (a missing scope),
        the post is sent again: at least once rather than lost.
        """
        try:
            if thread_ts:
                answer = self._client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=LOOKBACK
                )
            else:
                answer = self._client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=LOOKBACK
                )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if exc.response.status_code == 429 or exc.response.status_code >= 500:
                raise
            if error in TRANSIENT_ERRORS:
                raise
            log.warning("cannot look for %s in %s (%s): posting it again", key, channel, error)
            return None
        for message in answer.get("messages") or []:
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == METADATA_EVENT
                and (metadata.get("event_payload") or {}).get("key") == key
            ):
                return str(message["ts"])
        return None

    def _failed(self, delivery: Delivery, exc: SlackApiError) -> None:
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"HTTP {status}")
        if status == 429:
            if self._superseded(delivery):
                return
            wait = _retry_after(exc.response.headers)
            self._paused_until[METHODS[delivery.kind]] = self._clock() + wait
            self._outbox.retry_later(
                delivery.id, not_before=self._clock() + wait, error="ratelimited"
            )
            log.warning("Slack rate-limited %s: waiting %.0f s", METHODS[delivery.kind], wait)
        elif status >= 500 or error in TRANSIENT_ERRORS:
            self._retry(delivery, error)
        else:
            self._outbox.dead(delivery.id, error=error)
            log.error("notification %s cannot be delivered: %s", delivery.key, error)

    def _superseded(self, delivery: Delivery) -> bool:
        """A failed update is dropped when a newer one of its message was queued meanwhile
        (while it was being sent): retried later, it would put the older picture back."""
        if delivery.kind is not Kind.UPDATE or not self._outbox.superseded(delivery.id):
            return False
        self._outbox.delivered(delivery.id, channel=None, ts=None)
        log.info("update %s failed and a newer one is queued: dropped", delivery.key)
        return True

    def _retry(
        self, delivery: Delivery, error: str, *, uncertain: bool = False, slow: bool = False
    ) -> None:
        if self._superseded(delivery):
            return
        delay = self._backoff.delay(delivery.attempts + 1, self._draw())
        if slow:  # look for it only once Slack has surely finished with the call
            delay = max(delay, float(self._client.timeout))
        self._outbox.retry_later(
            delivery.id, not_before=self._clock() + delay, error=error, uncertain=uncertain
        )
        log.warning("notification %s failed (%s): retrying in %.1f s", delivery.key, error, delay)

    # --- the delivery thread -------------------------------------------------------

    def start(self, poll: float = 0.2) -> Notifier:
        """Deliver in the background, waking on each new notification."""
        self._thread = threading.Thread(target=self._loop, args=(poll,), name="notifier")
        self._thread.daemon = True
        self._thread.start()
        return self

    def _loop(self, poll: float) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.deliver_due()
            except OutboxBusyError as exc:  # the state file held by another process
                log.warning("%s; trying again", exc)
            except Exception:
                log.exception("the notifier's delivery pass failed; trying again")
            self._wake.wait(poll)

    def flush(self, timeout: float) -> bool:
        """Wait until nothing is pending or being sent; ``False`` if ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while self._outbox.count(State.PENDING, State.SENDING):
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            time.sleep(0.02)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)


def _retry_after(headers: Any) -> float:
    value = headers.get("Retry-After") or headers.get("retry-after") or "1"
    if isinstance(value, list):
        value = value[0]
    try:
        return max(1.0, float(value))
    except ValueError:
        return 1.0
