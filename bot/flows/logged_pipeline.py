"""The pipeline with its runs' log lines tagged: each line says which request and target."""

from __future__ import annotations

from typing import Any

from bot.logs.setup import log_context
from commands.pipeline import Pipeline, RunOutcome


class LoggedPipeline(Pipeline):
    """``Pipeline`` whose ``run`` binds the request id and its target for the log."""

    def run(self, request_id: str, **kwargs: Any) -> RunOutcome:
        target = self.context.requests.get(request_id).target
        with log_context(request_id=request_id, target=target):
            return super().run(request_id, **kwargs)
