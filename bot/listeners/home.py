"""The App Home tab: drawn when someone opens it (``app_home_opened``).

Bolt acknowledges events itself; the listener only hands the drawing to the
worker (it reads the log and, at most every half minute, the databases), or,
on a front of a shared deployment, enqueues the event for a worker process,
since a front reaches no target database.
A click on the tab is handled by the same listeners as on a request message;
its answer redraws the tab (``bot.slack_api.replies.HomeReplier``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.flows.home import HomeTab
from bot.listeners.handoff import Handoff

log = logging.getLogger(__name__)


def register_home(app: App, *, home: HomeTab, handoff: Handoff) -> None:
    @app.event("app_home_opened")
    def home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str):
            return  # the Messages tab, or a payload without a user
        forward = handoff.forward
        draw: Callable[[], None] = (
            (lambda: forward(body)) if forward is not None else (lambda: home.publish(user))
        )
        handoff.work_pool.submit(
            draw,
            name="drawing the home tab",
            on_error=lambda exc: log.warning("the home tab of %s failed: %s", user, exc),
        )
