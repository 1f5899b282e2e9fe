"""The runner with its runs' log lines tagged: each line says which request and target
(a fleet's members each their own, ``tenants.acme``)."""

from __future__ import annotations

from typing import Any

from bot.logs.setup import log_context
from bot.worker import background_priority
from commands.fleet.runner import Runner
from commands.pipeline import RunOutcome


class LoggedPipeline(Runner):
    """``Runner`` whose ``run`` binds the request id and its target for the log; a fleet's
    members run at a lower CPU priority than the answers to Slack."""

    member_thread_setup = staticmethod(background_priority)

    def run(self, request_id: str, **kwargs: Any) -> RunOutcome:
        target = self.context.requests.get(request_id).target
        with log_context(request_id=request_id, target=target):
            return super().run(request_id, **kwargs)
