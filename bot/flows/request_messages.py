"""Everything the bot says about a request, through the notifier's outbox.

The request message is posted once (its outbox key is ``M-12:message``) and
drawn again from the audit log on every change; the notifier coalesces the
updates and keeps within Slack's rate limits. The run's details go to the
message's thread; outcomes go to the ops channel, the stakeholders and the
requester, each under a key of its own (``M-12:outcome:ops``…), so a retry
or a restart never announces twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from audit.store import Clock, EventStore, utc_now
from bot.slack_api.notifier import Link, Notifier
from bot.views.announcements import (
    REQUEST_LINK,
    approval_wanted,
    interrupted_announcement,
    outcome_announcement,
    outcome_note,
    outcome_thread,
    update_thread_line,
)
from bot.views.blocks import Block
from bot.views.people import USER_ID
from bot.views.request import request_message
from bot.views.request_card import RequestCard
from bot.views.run_picture import RunNews, run_picture
from commands.config.targets_file import USER_GROUP, Config
from commands.pipeline import InterruptedRun, RunOutcome, RunUpdate
from commands.pipeline.ways_back import ways_back
from commands.requests import Request, RequestService
from commands.state.vocabulary import RequestState

log = logging.getLogger(__name__)

Expand = Callable[[Iterable[str]], list[str]]
"""User ids of a list of people and user groups (``SlackUserGroups.expand``)."""
ChannelName = Callable[[str], str | None]
"""A channel's name, without the ``#`` (``ChannelNames.name``); ``None`` when unknown."""


def message_key(request_id: str) -> str:
    return f"{request_id}:message"


class RequestMessages:
    """Posts, redraws and announces; never raises for Slack (the outbox holds on)."""

    def __init__(
        self,
        *,
        config: Config,
        requests: RequestService,
        store: EventStore,
        notifier: Notifier,
        expand: Expand,
        clock: Clock = utc_now,
        channel_name: ChannelName = lambda _channel: None,
    ) -> None:
        self.config = config
        self.channel_name = channel_name
        self.requests = requests
        self.store = store
        self.notifier = notifier
        self.expand = expand
        self.clock = clock
        self._news: dict[str, RunNews] = {}
        self._notes: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        # whether this process schedules (set by the flow that holds the scheduler)
        self.scheduler_running: Callable[[], bool] = lambda: True

    # --- the request message ---------------------------------------------------

    def post(self, request: Request, channel: str) -> None:
        """Post the request message in ``channel`` (once: a retried ask redraws it)."""
        key = message_key(request.id)
        if self.notifier.knows(key):
            self.refresh(request.id)
            return
        with self._lock(request.id):
            text, blocks = request_message(self.card(request))
            self.notifier.post(channel, text, blocks, key=key)

    def refresh(self, request_id: str) -> None:
        """Draw the message again from the log (no-op for a request never posted here).

        Read, drawn and queued under one lock per request, so an older
        picture can never replace a newer one in the outbox.
        """
        key = message_key(request_id)
        if not self.notifier.knows(key):
            return
        with self._lock(request_id):
            text, blocks = request_message(self.card(self.requests.get(request_id)))
            self.notifier.update(key, text, blocks)

    def card(self, request: Request) -> RequestCard:
        policy = self.requests.policy(request.target)
        waiting = request.state is RequestState.AWAITING_APPROVAL
        return RequestCard(
            request=request,
            approvers=policy.approvers,
            checklist=policy.checklist,
            missing=self.requests.tally(request).missing if waiting else (),
            approval_ttl_s=policy.ttl_seconds,
            now=self.clock(),
            run=run_picture(request, self._news.get(request.id)),
            ways_back=ways_back(request, self.store),
            note=self._notes.get(request.id) if request.state is RequestState.APPROVED else None,
            can_schedule=self._schedulable(request.target),
        )

    def _schedulable(self, target_name: str) -> bool:
        """A time can be picked for the target: it has windows or allows any time, and
        this process runs the scheduler."""
        target = self.config.target(target_name)
        return bool(target.windows or target.allow_outside_windows) and self.scheduler_running()

    def not_started(self, request_id: str, reason: str) -> None:
        """An approved request that could not start: say why on the message and in the thread."""
        self._notes[request_id] = reason
        self.refresh(request_id)
        self.thread(self.requests.get(request_id), f"⚠️ Not started: {reason}")

    def thread(
        self,
        request: Request,
        text: str,
        blocks: list[Block] | None = None,
        *,
        key: str | None = None,
    ) -> None:
        """A reply in the request message's thread (nothing if it has no message here)."""
        channel = request.origin.get("channel")
        if channel and self.notifier.knows(message_key(request.id)):
            self.notifier.post(channel, text, blocks, thread=message_key(request.id), key=key)

    # --- people ------------------------------------------------------------------

    def ask_approvers(self, request: Request) -> None:
        """A direct message to each approver (groups expanded) but the requester, once,
        linking to the request message and naming its channel."""
        policy = self.requests.policy(request.target)
        channel = request.origin.get("channel")
        name = self.channel_name(channel) if channel else None
        text, blocks = approval_wanted(request, channel, name)
        link = Link(
            token=REQUEST_LINK, message=message_key(request.id), label="the request", fallback=""
        )
        for user in self.expand(policy.approvers):
            if user != request.requester:
                key = f"{request.id}:approver:{user}"
                self.notifier.post(user, text, blocks, key=key, link=link)

    def tell_ops(self, text: str, blocks: list[Block], *, key: str) -> None:
        if self.config.bot.ops_channel:
            self.notifier.post(self.config.bot.ops_channel, text, blocks, key=key)

    def tell_stakeholders(self, target: str, text: str, blocks: list[Block], *, key: str) -> None:
        """Channels get a message; users and user groups' members a direct message."""
        entries = self.config.target(target).stakeholders
        channels = [e for e in entries if not USER_ID.match(e) and not USER_GROUP.match(e)]
        for channel in channels:
            self.notifier.post(channel, text, blocks, key=f"{key}:{channel}")
        for user in self.expand(e for e in entries if e not in channels):
            self.notifier.post(user, text, blocks, key=f"{key}:{user}")

    # --- runs ----------------------------------------------------------------------

    def on_update(self, update: RunUpdate) -> None:
        """A run's news: the live status redrawn, the notable steps in the thread."""
        with self._guard:
            self._news[update.request_id] = self._news.get(update.request_id, RunNews()).after(
                update
            )
        self.refresh(update.request_id)
        line = update_thread_line(update)
        if line is not None:
            self.thread(self.requests.get(update.request_id), line)

    def running(self) -> list[str]:
        """Requests whose run this process is watching (the ticker redraws them)."""
        with self._guard:
            return list(self._news)

    def announce_outcome(self, outcome: RunOutcome) -> None:
        """The final message, the thread's details, ops, stakeholders and the requester."""
        with self._guard:
            self._news.pop(outcome.request_id, None)
        request = self.requests.get(outcome.request_id)
        self.refresh(request.id)
        key = _outcome_key(request.id)
        self.thread(request, *outcome_thread(outcome), key=f"{key}:thread")
        offers = ways_back(request, self.store)
        self.tell_ops(*outcome_announcement(outcome, request, offers), key=f"{key}:ops")
        note = outcome_note(outcome, request, for_requester=False)
        self.tell_stakeholders(request.target, *note, key=f"{key}:stakeholders")
        if USER_ID.match(request.requester):
            mine = outcome_note(outcome, request, for_requester=True)
            self.notifier.post(request.requester, *mine, key=f"{key}:requester")

    def outcome_owed(self, request_id: str) -> bool:
        """Whether ``request_id`` has a message here but its run's outcome was never queued
        (its thread reply is queued with every outcome; terminal runs have no message)."""
        return self.notifier.knows(message_key(request_id)) and not self.notifier.knows(
            f"{_outcome_key(request_id)}:thread"
        )

    def announce_interrupted(self, run: InterruptedRun) -> None:
        """A run that died with the bot, told once to the same people as an outcome."""
        request = self.requests.get(run.request.id)
        self.refresh(request.id)
        text, blocks = interrupted_announcement(run, ways_back(request, self.store))
        key = f"{request.id}:interrupted"
        self.thread(request, text, blocks, key=f"{key}:thread")
        self.tell_ops(text, blocks, key=f"{key}:ops")
        self.tell_stakeholders(request.target, text, blocks[:1], key=f"{key}:stakeholders")
        if USER_ID.match(request.requester):
            self.notifier.post(request.requester, text, blocks[:1], key=f"{key}:requester")

    def _lock(self, request_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(request_id, threading.Lock())


def _outcome_key(request_id: str) -> str:
    return f"{request_id}:outcome"
