"""The page's actions as Slack would send them: signed requests to the bot over HTTP.

A command typed on the page becomes the slash-command form, a click or a
tick a ``block_actions`` payload, a modal's Submit a ``view_submission``,
opening the Home tab an ``app_home_opened`` event (JSON, as Slack posts events);
each gets a fresh ``trigger_id`` and ``response_url`` from the local Slack
server, is signed with the run's signing secret (v0, as Slack signs) and is
posted to the bot's ``/slack/events``. What the bot answers is handled as
Slack handles it: a slash command's answer body is shown to its user, a
modal's ``response_action`` updates, pushes, shows errors or closes it.
Every request is kept (``sent``) for the page's request log and for tests.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import TEAM_ID
from bot.sandbox import payloads
from bot.sandbox.people import People, Person
from commands.errors import ExitCode, MigrateBotError

ACK_DEADLINE_S = 3.0  # Slack gives up on an answer after three seconds
TIMEOUT_S = 10.0
KEPT = 200


class BridgeError(MigrateBotError):
    """The page asked for something Slack would not send (unknown person, gone message)."""

    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class Sent:
    """One request sent to the bot and what it answered."""

    seq: int
    kind: str
    body: dict[str, Any]
    status: int
    answer: str
    ms: float


@dataclass(frozen=True)
class Submitted:
    """What became of a modal's Submit: close it, or show these errors in it."""

    sent: Sent
    close: bool
    errors: dict[str, str] = field(default_factory=dict)


class SlackBridge:
    """Sends the page's actions to the bot at ``bot_url`` as signed Slack requests."""

    def __init__(
        self,
        *,
        bot_url: str,
        signing_secret: str,
        slack: LocalSlackServer,
        people: People,
        team_id: str = TEAM_ID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot_url = bot_url
        self.slack = slack
        self.people = people
        self.team_id = team_id
        self._clock = clock
        self._verifier = SignatureVerifier(signing_secret)
        self._sent: deque[Sent] = deque(maxlen=KEPT)
        self._count = 0
        self._lock = threading.Lock()

    # --- what the page does ---------------------------------------------------

    def command(self, *, user: str, channel: str, text: str) -> Sent:
        """``/migrate text`` typed by ``user`` in ``channel``."""
        person = self.person(user)
        trigger_id, response_url = self.slack.interaction_ids(channel, person.id)
        form = payloads.slash_command_form(
            text=text.strip(),
            person=person,
            channel=self._channel(channel),
            team_id=self.team_id,
            trigger_id=trigger_id,
            response_url=response_url,
        )
        sent = self._post("slash_command", form, urlencode(form).encode())
        self._show_command_answer(sent, channel, person)
        return sent

    def act(
        self,
        *,
        user: str,
        source: Mapping[str, Any],
        position: int,
        action_id: str,
        value: Any,
        state: payloads.RawState,
    ) -> Sent:
        """A click, tick or choice on an element of a message, an ephemeral or a modal.

        ``source`` is ``{"channel", "ts", "ephemeral"}`` or ``{"view_id"}``.
        Raises ``BridgeError`` when the person or the element is unknown.
        """
        person = self.person(user)
        if source.get("view_id"):
            view_id = str(source["view_id"])
            return self._act_in_view(
                person, view_id, position=position, action_id=action_id, value=value, state=state
            )
        channel, ts = str(source.get("channel") or ""), str(source.get("ts") or "")
        ephemeral = bool(source.get("ephemeral"))
        message = (
            self.slack.workspace.ephemeral(person.id, ts)
            if ephemeral
            else self.slack.workspace.message(channel, ts)
        )
        if message is None or message.get("channel") != channel:
            raise BridgeError("that message is gone")
        located = self._locate(message.get("blocks") or [], position, action_id)
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            container["thread_ts"] = thread_ts
        trigger_id, response_url = self.slack.interaction_ids(channel, person.id, ts)
        payload = payloads.block_actions_payload(
            person=person,
            team_id=self.team_id,
            container=container,
            actions=[payloads.action_of(located, value, action_ts=self._action_ts())],
            values=payloads.state_values(message.get("blocks") or [], state),
            trigger_id=trigger_id,
            channel=self._channel(channel),
            message=None if ephemeral else _as_slack_sends(message),
            response_url=response_url,
        )
        return self._post("block_actions", payload, _form(payload))

    def submit(self, *, user: str, view_id: str, state: payloads.RawState) -> Submitted:
        """The Submit button of the modal ``view_id``; raises ``BridgeError``."""
        person = self.person(user)
        view = self._view(person, view_id)
        payload = payloads.view_submission_payload(
            person=person,
            team_id=self.team_id,
            view=view,
            values=payloads.state_values(view.get("blocks") or [], state),
            trigger_id=self.slack.workspace.new_trigger_id(person.id),
        )
        sent = self._post("view_submission", payload, _form(payload))
        return self._after_submit(sent, person, view_id)

    def open_home(self, *, user: str) -> Sent:
        """``user`` opened the app's Home tab: the event Slack sends the bot."""
        person = self.person(user)
        event = payloads.home_opened_event(
            person=person,
            team_id=self.team_id,
            channel=self.slack.workspace.dm_channel(person.id),
            event_ts=self._action_ts(),
        )
        return self._post("event", event, json.dumps(event).encode(), "application/json")

    # --- reading ---------------------------------------------------------------

    def person(self, user: str) -> Person:
        for person in self.people.both:
            if person.id == user:
                return person
        raise BridgeError(f"{user!r} is not one of the sandbox's people")

    def sent(self, after: int = 0) -> list[Sent]:
        """The requests sent (the last ``KEPT``), numbered above ``after``, oldest first."""
        with self._lock:
            return [s for s in self._sent if s.seq > after]

    # --- the rest ------------------------------------------------------------

    def _act_in_view(
        self,
        person: Person,
        view_id: str,
        *,
        position: int,
        action_id: str,
        value: Any,
        state: payloads.RawState,
    ) -> Sent:
        view = self._view(person, view_id)
        located = self._locate(view.get("blocks") or [], position, action_id)
        payload = payloads.block_actions_payload(
            person=person,
            team_id=self.team_id,
            container={"type": "view", "view_id": view_id},
            actions=[payloads.action_of(located, value, action_ts=self._action_ts())],
            values=payloads.state_values(view.get("blocks") or [], state),
            trigger_id=self.slack.workspace.new_trigger_id(person.id),
            view=view,
        )
        return self._post("block_actions", payload, _form(payload))

    def _view(self, person: Person, view_id: str) -> dict[str, Any]:
        found = self.slack.workspace.view(view_id)
        if found is None or found[1] not in (None, person.id):
            raise BridgeError("that modal is not open for you")
        return found[0]

    def _locate(self, blocks: list[Any], position: int, action_id: str) -> payloads.Located:
        try:
            return payloads.find_element(blocks, position, action_id)
        except payloads.ElementNotFoundError as exc:
            raise BridgeError(str(exc)) from None

    def _channel(self, channel: str) -> tuple[str, str]:
        if channel.startswith("D"):
            return channel, "directmessage"
        return channel, self.slack.workspace.channels.get(channel, channel.lower())

    def _action_ts(self) -> str:
        return f"{self._clock():.6f}"

    def _post(
        self,
        kind: str,
        shown: dict[str, Any],
        body: bytes,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Sent:
        """Sign and POST ``body`` to the bot; ``shown`` is what the log keeps of it."""
        stamp = str(int(self._clock()))
        request = urllib.request.Request(
            f"{self.bot_url}/slack/events",
            data=body,
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": self._verifier.generate_signature(timestamp=stamp, body=body)
                or "",
            },
        )
        began = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                status, text = answer.status, answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        except (urllib.error.URLError, TimeoutError) as exc:
            status, text = 0, f"no answer: {exc}"
        ms = (time.monotonic() - began) * 1000
        with self._lock:
            self._count += 1
            sent = Sent(self._count, kind, shown, status, text, round(ms, 1))
            self._sent.append(sent)
        return sent

    def _show_command_answer(self, sent: Sent, channel: str, person: Person) -> None:
        """What Slack does with a slash command's answer: its body is a message to the user;
        a failure or a late answer is reported to them as Slack words it."""
        workspace = self.slack.workspace
        if sent.status != 200:
            failure = "dispatch_failed"
        elif sent.ms > ACK_DEADLINE_S * 1000:
            failure = "operation_timeout"
        else:
            failure = None
        if failure is not None:
            text = f'/migrate failed with the error "{failure}"'
            workspace.post_ephemeral({"channel": channel, "user": person.id, "text": text})
            return
        if not sent.answer.strip():
            return
        try:
            body = json.loads(sent.answer)
        except ValueError:
            body = {"text": sent.answer}
        if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            workspace.respond(channel, person.id, None, body)

    def _after_submit(self, sent: Sent, person: Person, view_id: str) -> Submitted:
        if sent.status != 200:
            return Submitted(sent, close=False, errors={"": "The bot did not accept this form."})
        try:
            body = json.loads(sent.answer) if sent.answer.strip() else {}
        except ValueError:
            body = {}
        action = body.get("response_action") if isinstance(body, dict) else None
        workspace = self.slack.workspace
        if action == "errors":
            return Submitted(sent, close=False, errors=dict(body.get("errors") or {}))
        if action == "update":
            workspace.update_view({"view_id": view_id, "view": body.get("view")})
            return Submitted(sent, close=False)
        if action == "push":
            trigger = workspace.new_trigger_id(person.id)
            workspace.open_view({"trigger_id": trigger, "view": body.get("view")})
            return Submitted(sent, close=False)
        return Submitted(sent, close=True)


def _form(payload: dict[str, Any]) -> bytes:
    """An interaction as Slack posts it: a form with the payload as JSON in one field."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def _as_slack_sends(message: Mapping[str, Any]) -> dict[str, Any]:
    """The message as a ``block_actions`` payload carries it (no workspace bookkeeping)."""
    keep = ("type", "user", "bot_id", "ts", "text", "blocks", "thread_ts", "reply_count")
    sent = {k: message[k] for k in keep if message.get(k) is not None}
    if message.get("edited"):
        sent["edited"] = {"user": message.get("user"), "ts": message.get("ts")}
    return sent
