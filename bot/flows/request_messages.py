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
)
from bot.views.blocks import Block
from bot.views.people import USER_ID
from bot.views.request import request_message
from bot.views.request_card import RequestCard
from bot.views.run_picture import RunNews, fleet_picture, run_picture
from bot.views.thread_lines import thread_line, wave_summary
from commands.config.targets_file import USER_GROUP, Config
from commands.fleet.set_plan import members_to_run
from commands.fleet.waves import split_waves
from commands.pipeline import InterruptedRun, RunOutcome
from commands.pipeline.progress import FleetUpdate, FleetUpdateKind, Update
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
        redraw_interval: float = 1.0,
        scheduling_here: Callable[[], bool] = lambda: True,
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
        self._redraws = Redraws(self.refresh, redraw_interval)
        self._fleets: set[str] = set()  # fleet runs this process watches
        self.scheduling_here = scheduling_here  # whether a scheduler runs in this process

    # --- the request message ---------------------------------------------------

    def post(self, request: Request, channel: str) -> None:
        """Post the request message in ``channel`` (once: a retried ask redraws it)."""
        key = message_key(request.id)
        if self.notifier.knows(key):
            self.refresh(request.id)
            return
        with self._lock(request.id):
            text, blocks = self.draw(self.card(request))
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
            text, blocks = self.draw(self.card(self.requests.get(request_id)))
            self.notifier.update(key, text, blocks)

    @staticmethod
    def draw(card: RequestCard) -> tuple[str, list[Block]]:
        """The request message's text and blocks."""
        return request_message(card)

    def card(self, request: Request) -> RequestCard:
        """What the message shows: the request, what the policy still needs, its run (a
        fleet's as a picture of its members), its ways back."""
        policy = self.requests.policy(request.target)
        waiting = request.state is RequestState.AWAITING_APPROVAL
        now = self.clock()
        return RequestCard(
            request=request,
            approvers=policy.approvers,
            checklist=policy.checklist,
            missing=self.requests.tally(request).missing if waiting else (),
            approval_ttl_s=policy.ttl_seconds,
            now=now,
            run=run_picture(request, self._news.get(request.id)),
            ways_back=ways_back(request, self.store),
            note=self._notes.get(request.id) if request.state is RequestState.APPROVED else None,
            can_schedule=self._schedulable(request.target),
            fleet=fleet_picture(request, waves_total=self._waves_total(request), now=now),
            fleet_settings=self.config.target(request.target).fleet,
        )

    def _waves_total(self, request: Request) -> int:
        settings = self.config.target(request.target).fleet
        if settings is None:
            return len(request.waves)
        return len(split_waves(members_to_run(request.fingerprint), settings.waves))

    def _schedulable(self, target_name: str) -> bool:
        """A time can be picked for the target: it has windows or allows any time, and
        this process runs the scheduler."""
        target = self.config.target(target_name)
        return bool(target.windows or target.allow_outside_windows) and self.scheduling_here()

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

    def on_update(self, update: Update) -> None:
        """A run's news: the live status redrawn, the notable steps in the thread."""
        if isinstance(update, FleetUpdate):
            self._on_fleet_update(update)
            return
        with self._guard:
            self._news[update.request_id] = self._news.get(update.request_id, RunNews()).after(
                update
            )
        self.refresh(update.request_id)
        line = thread_line(update)
        if line is not None:
            self.thread(self.requests.get(update.request_id), line)

    def _on_fleet_update(self, update: FleetUpdate) -> None:
        """A fleet's news: its live status redrawn at most once per interval however many
        members change; a member that ends badly in the thread at once, the rest wave by
        wave."""
        with self._guard:
            self._fleets.add(update.request_id)
        self._redraws.mark(update.request_id)
        line = thread_line(update)
        if update.kind is FleetUpdateKind.WAVE_FINISHED and update.wave is not None:
            request = self.requests.get(update.request_id)
            line = wave_summary(request, update.wave, self._waves_total(request))
        if line is not None:
            self.thread(self.requests.get(update.request_id), line)

    def running(self) -> list[str]:
        """Requests whose run this process is watching (the ticker redraws them)."""
        with self._guard:
            return [*self._news, *self._fleets]

    def announce_outcome(self, outcome: RunOutcome) -> None:
        """The final message, the thread's details, ops, stakeholders and the requester."""
        with self._guard:
            self._news.pop(outcome.request_id, None)
            self._fleets.discard(outcome.request_id)
        self._redraws.cancel(outcome.request_id)
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
        """A run that died with the bot, told once to the same people as an outcome (a
        fleet's, each member explained)."""
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


class Redraws:
    """Redraws a message at most once per ``interval``, however often it is marked: the
    last mark is always drawn (a timer fires ``interval`` after the first mark)."""

    def __init__(self, draw: Callable[[str], None], interval: float) -> None:
        self._draw = draw
        self._interval = interval
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()

    def mark(self, key: str) -> None:
        with self._lock:
            if key in self._timers:
                return
            timer = threading.Timer(self._interval, self._fire, args=(key,))
            timer.daemon = True
            self._timers[key] = timer
        timer.start()

    def cancel(self, key: str) -> None:
        with self._lock:
            timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, key: str) -> None:
        with self._lock:
            self._timers.pop(key, None)
        try:
            self._draw(key)
        except Exception:  # a redraw that fails is retried by the next mark or the ticker
            log.exception("redrawing %s failed", key)
