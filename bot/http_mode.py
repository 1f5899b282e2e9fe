"""HTTP mode: the Bolt app behind Starlette, served by uvicorn.

All Slack traffic arrives at ``POST /slack/events``; ``GET /health`` answers a
small JSON status. Bolt's Starlette adapter calls the (blocking) ``dispatch``
on the event loop; here it runs on a thread of the server's pool instead, so
twenty senders at once are served side by side rather than one by one, and
the work a listener hands to the worker starts once the answer has been sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import (
    SlackRequestHandler,
    to_bolt_request,
    to_starlette_response,
)
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.worker import answering, holding_jobs, release

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/health"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is refused unread


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's Starlette adapter with ``dispatch`` off the event loop."""

    async def handle(
        self, req: Request, addition_context_properties: dict[str, Any] | None = None
    ) -> Response:
        body = await _bounded_body(req)
        if body is None:
            return PlainTextResponse("payload too large", status_code=413)
        bolt_request = to_bolt_request(req, body, addition_context_properties)
        with holding_jobs() as held, answering.one():
            bolt_response = await run_in_threadpool(self.app.dispatch, bolt_request)
        response = to_starlette_response(bolt_response)
        response.background = BackgroundTask(release, held)
        return response


def http_app(bolt_app: App, *, health: Callable[[], dict[str, Any]]) -> Starlette:
    handler = ThreadedSlackRequestHandler(bolt_app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def health_check(_request: Request) -> Response:
        return JSONResponse(health())

    return Starlette(
        routes=[
            Route(EVENTS_PATH, events, methods=["POST"]),
            Route(HEALTH_PATH, health_check, methods=["GET"]),
        ]
    )


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or ``None`` as soon as it is longer than ``MAX_BODY``."""
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
