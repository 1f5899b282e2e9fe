"""The Bolt app: middleware, listeners and the one error handler.

``build_app`` is the factory both modes (HTTP, Socket Mode), the tests and the
benchmarks use. Listeners acknowledge at once (``process_before_response``:
the listener is the ack path and does nothing slow) and hand the work to the
work pool (``bot.work_pool``) through one ``Handoff``; ``handlers`` maps each grammar command to
the function that does it.
Every request passes ``bot.middleware``'s chain first (another workspace's
requests refused, Slack's retries dropped).
With a ``flow`` (see ``bot.runtime``) the app also asks for changes, and its
request messages' buttons approve, reject, cancel and roll back; with the
flow's ``scheduling`` it schedules them too; and it draws each person's App
Home tab.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot.adapters.slack_settings import SlackSettings
from bot.error_reporting import ErrorReporter
from bot.flows.home import HomeTab
from bot.flows.plan_cache import RecentPlans
from bot.flows.request_flow import RequestFlow
from bot.invocation import Invocation
from bot.listeners.change_phases import change_phase_handlers, register_change_buttons
from bot.listeners.changes import acknowledgement, change_handlers
from bot.listeners.context import CommandContext, CommandHandler
from bot.listeners.decisions import register_decisions
from bot.listeners.handoff import Forward, Handoff
from bot.listeners.home import register_home
from bot.listeners.live_use import register_live_use
from bot.listeners.read_only import READ_ONLY_HANDLERS
from bot.listeners.rejection import register_rejection
from bot.listeners.scheduling import register_scheduling, schedule_handlers
from bot.listeners.schema_evidence import register_schema_evidence
from bot.listeners.shared_work import SharedWork
from bot.listeners.slash import register_slash_command
from bot.listeners.sql import register_actions, register_unknown_actions
from bot.middleware import global_middleware
from bot.slack_api.replies import HomeReplier, Replier, web_client
from bot.work_pool import WorkPool
from commands.config.targets_file import Config, TargetConfig
from commands.targets import TargetHandle, open_target

log = logging.getLogger(__name__)


def build_app(
    settings: SlackSettings,
    *,
    config: Config,
    work_pool: WorkPool,
    handlers: Mapping[type, CommandHandler] | None = None,
    plans: RecentPlans | None = None,
    open_target: Callable[[TargetConfig], TargetHandle] = open_target,
    reporter: ErrorReporter | None = None,
    client: WebClient | None = None,
    flow: RequestFlow | None = None,
    forward: Forward | None = None,
    middleware: list[Middleware] | None = None,
) -> App:
    """A Bolt app answering ``/migrate`` and its buttons.

    ``handlers`` are added to (and override) the read-only ones and, with a
    ``flow``, the change handlers. ``forward``: a front of a shared deployment,
    which enqueues each request's work for a worker instead of doing it.
    ``middleware`` replaces ``global_middleware()`` (a worker replaying requests
    a front already filtered). Building it calls ``auth.test`` once, so a
    wrong token fails here, at start.
    """
    client = client or web_client(settings.bot_token, settings.api_url)
    reporter = reporter or ErrorReporter()
    plans = plans or (flow.asking.plans if flow is not None else RecentPlans())
    changes: dict[type, CommandHandler] = {}
    if flow is not None:
        changes = change_handlers(flow) | schedule_handlers(flow.scheduling)
        if flow.changes is not None:
            changes |= change_phase_handlers(flow.changes)
    shared = SharedWork()
    app = App(  # the client carries the token (given both, Bolt warns that one is unused)
        signing_secret=settings.signing_secret or "",
        client=client,
        process_before_response=True,
    )
    if middleware is None:
        middleware = global_middleware(people=flow.people if flow is not None else None)
    for each in middleware:
        app.use(each)
    home = HomeTab(flow=flow, client=client) if flow is not None else None

    def context_for(invocation: Invocation) -> CommandContext:
        reply = (
            HomeReplier(client, invocation, home.publish)
            if home is not None and invocation.surface == "home"
            else Replier(client, invocation)
        )
        return CommandContext(
            invocation=invocation,
            reply=reply,
            config=config,
            plans=plans,
            open_target=open_target,
            shared=shared,
        )

    handoff = Handoff(context_for, work_pool, reporter, forward)
    register_slash_command(
        app,
        config=config,
        handlers={**READ_ONLY_HANDLERS, **changes, **(handlers or {})},
        handoff=handoff,
        acknowledgement=acknowledgement,
    )
    register_actions(app, handoff=handoff)
    if flow is not None:
        register_decisions(app, flow=flow, handoff=handoff)
        assert home is not None
        register_rejection(app, flow=flow, handoff=handoff, home=home)
        register_home(app, home=home, handoff=handoff)
        register_live_use(app, flow=flow, handoff=handoff)
        register_schema_evidence(app, flow=flow, handoff=handoff)
        register_scheduling(app, scheduling=flow.scheduling, handoff=handoff)
        if flow.changes is not None:
            register_change_buttons(app, flow=flow.changes, handoff=handoff)
    register_unknown_actions(app)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        """Our errors become an ephemeral answer; a slash command's goes in the ack itself."""
        message = reporter.user_message(error, doing="handling your request")
        if body.get("command"):
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": message})
        invocation = Invocation.from_body(body)
        if invocation.user_id:
            work_pool.submit(
                lambda: Replier(client, invocation).ephemeral(message),
                name="error reply",
                on_error=lambda exc: log.warning("could not tell the user of an error: %s", exc),
            )
        return BoltResponse(status=200, body="")

    return app
