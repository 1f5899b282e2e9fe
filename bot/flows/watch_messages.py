"""What the bot says about a watch: that it began and its summary in the request's
thread, and, at once, a regression to the ops channel. Each under its own outbox
key, so a restart or a second bot never says it twice."""

from __future__ import annotations

from bot.flows.request_messages import RequestMessages
from bot.views.watch import watch_alert, watch_started_text, watch_summary
from commands.pipeline.watch_report import WatchReport
from commands.pipeline.ways_back import ways_back


class WatchMessages:
    """The ``WatchKeeper``'s sinks for the Slack front."""

    def __init__(self, messages: RequestMessages) -> None:
        self.messages = messages

    def started(self, report: WatchReport) -> None:
        request = self.messages.requests.get(report.request_id)
        self.messages.thread(request, watch_started_text(report), key=f"{request.id}:watch:started")

    def regressed(self, report: WatchReport) -> None:
        self.messages.tell_ops(*watch_alert(report), key=f"{report.request_id}:watch:alert")

    def finished(self, report: WatchReport) -> None:
        request = self.messages.requests.get(report.request_id)
        offers = ways_back(request, self.messages.store) if report.regressed else ()
        summary = watch_summary(report, request, offers)
        self.messages.thread(request, *summary, key=f"{request.id}:watch:summary")
        if report.regressed:  # told already if it was seen during the watch (same key)
            self.regressed(report)
