"""The App Home tab: drawn when someone opens it (``app_home_opened``).

Bolt acknowledges events itself; the listener only hands the drawing to the
worker (it reads the log and, at most every half minute, the databases).
A click on the tab is handled by the same listeners as on a request message;
its answer redraws the tab (``bot.slack_api.replies.HomeReplier``).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.flows.home import HomeTab
from bot.worker import Worker

log = logging.getLogger(__name__)


def register_home(app: App, *, home: HomeTab, worker: Worker) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str):
            return  # the Messages tab, or a payload without a user
        worker.submit(
            lambda: home.publish(user),
            name="drawing the home tab",
            on_error=lambda exc: log.warning("the home tab of %s failed: %s", user, exc),
        )
