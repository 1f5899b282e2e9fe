"""Ack, then work: the routine every listener shares, written once.

Slack wants an answer in three seconds and Bolt's listener pool has a few
threads, so a listener only reads its payload, acknowledges, and hands the
work to the work pool (in the spirit of Bolt's lazy listener runner). Here
that hand-off is done once: the context for whoever asked, the job on the
work pool, its sentence (if it returns one) and any error as an answer only
they see. A listener gives its work: payload → domain call → view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App

from bot.error_reporting import ErrorReporter
from bot.invocation import Invocation
from bot.listeners.context import CommandContext
from bot.logs.setup import REQUEST_ID, log_context
from bot.work_pool import WorkPool

Work = Callable[[CommandContext], str | None]
"""What runs on the work pool; a sentence it returns is the asker's private answer."""
ActionWork = Callable[[dict[str, Any], CommandContext], str | None]
"""A button's work, given the clicked action."""
Forward = Callable[[Mapping[str, Any]], None]
"""A shared deployment's front: enqueue the Slack request's body for a worker, which
replays it through its own app (``bot.distributed.worker_process``) and does the work there."""


@dataclass(frozen=True)
class Handoff:
    """Starts listeners' work on ``work_pool``, each in a ``context_for`` its invocation;
    with ``forward`` (a front of a shared deployment), hands it to a worker process."""

    context_for: Callable[[Invocation], CommandContext]
    work_pool: WorkPool
    reporter: ErrorReporter
    forward: Forward | None = None

    def submit(
        self,
        invocation: Invocation,
        work: Work,
        *,
        doing: str,
        request_id: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        """Run ``work`` after the ack; ``doing`` names it in the log and in an error answer,
        whose lines carry ``request_id`` when the work is about one request. ``body`` is
        the Slack request's: a front that forwards enqueues it instead (after the ack
        too, so the acknowledgement waits for no database)."""
        ctx = self.context_for(invocation)
        forward = self.forward if body is not None else None

        def job() -> None:
            with log_context(request_id=request_id):
                if forward is not None and body is not None:
                    forward(body)
                    return
                answer = work(ctx)
                if answer:
                    ctx.reply.ephemeral(answer)

        self.work_pool.submit(
            job,
            name=f"enqueueing ({doing})" if forward else doing,
            on_error=lambda error: ctx.reply.ephemeral(
                self.reporter.user_message(error, doing=doing)
            ),
        )

    def on_action(self, app: App, action_id: str, *, doing: str, work: ActionWork) -> None:
        """Register a button's listener: ack at once, then ``work(action, ctx)``."""

        @app.action(action_id)
        def listener(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
            ack()
            value = action.get("value")
            request_id = value if isinstance(value, str) and REQUEST_ID.fullmatch(value) else None
            self.submit(
                Invocation.from_body(body),
                lambda ctx: work(action, ctx),
                doing=doing,
                request_id=request_id,
                body=body,
            )
