"""HTTP mode: the Bolt app behind Starlette, served by uvicorn.

All Slack traffic arrives at ``POST /slack/events``; ``GET /health`` answers a
small JSON status, ``GET /metrics`` Prometheus (``bot.metrics``). Bolt's
Starlette adapter calls the (blocking) ``dispatch`` on the event loop; here it
runs on a thread of the server's pool instead, so twenty senders at once are
served side by side rather than one by one, and the work a listener hands to
the work pool starts once the answer has been sent.

Before Bolt sees a request, the edge refuses, with one log line each: a body
over ``MAX_BODY`` (413); a missing, wrong or stale (over five minutes)
signature (401), so nothing unauthenticated is even parsed; and a signed body
that does not parse or is not shaped like a request this bot serves (400, see
``bot.adapters.payload_shape``), which would otherwise raise inside Bolt. A slash
command's form is read here in full (``_form_read_in_full``): Bolt 1.30 reads
any form that mentions "payload" as an empty body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CollectorRegistry
from slack_bolt import App, BoltContext, BoltRequest
from slack_bolt.adapter.starlette.handler import (
    SlackRequestHandler,
    to_bolt_request,
    to_starlette_response,
)
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.adapters.payload_shape import payload_problem
from bot.metrics.exposition import metrics_route
from bot.work_pool import answering, holding_jobs, release

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/health"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is refused unread
# What parsing a signed but malformed body raises inside Bolt's request: json (a
# RecursionError for deep nesting), UTF-8, and dict access on what is no dict.
MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's Starlette adapter with the edge's checks, and ``dispatch`` off the event loop."""

    def __init__(self, app: App, *, signing_secret: str) -> None:
        super().__init__(app)
        self.verifier = SignatureVerifier(signing_secret)

    async def handle(
        self, req: Request, addition_context_properties: dict[str, Any] | None = None
    ) -> Response:
        body = await _bounded_body(req)
        if body is None:
            return PlainTextResponse("payload too large", status_code=413)
        if not self._signed(body, req):
            log.info("refused a request with a missing, wrong or stale signature")
            return PlainTextResponse("invalid request", status_code=401)
        bolt_request = _parsed(req, body, addition_context_properties)
        if bolt_request is None:
            return PlainTextResponse("bad request", status_code=400)
        with holding_jobs() as held, answering.one():
            bolt_response = await run_in_threadpool(self.app.dispatch, bolt_request)
        response = to_starlette_response(bolt_response)
        response.background = BackgroundTask(release, held)
        return response

    def _signed(self, body: bytes, req: Request) -> bool:
        """Whether Slack signed ``body`` in the last five minutes. A timestamp that is no
        number, a signature that is no ASCII or a body that is no UTF-8 are not signed."""
        try:
            return self.verifier.is_valid_request(body, dict(req.headers))
        except (ValueError, TypeError):
            return False


def http_app(
    bolt_app: App,
    *,
    signing_secret: str,
    health: Callable[[], dict[str, Any]],
    metrics: CollectorRegistry | None = None,
    routes: Sequence[Route] = (),
) -> Starlette:
    """``POST /slack/events``, ``GET /health``, given a registry ``GET /metrics``, and
    ``routes`` (the deploy pipeline's ``POST /changes/confirm``)."""
    handler = ThreadedSlackRequestHandler(bolt_app, signing_secret=signing_secret)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def health_check(_request: Request) -> Response:
        return JSONResponse(health())

    served = [
        Route(EVENTS_PATH, events, methods=["POST"]),
        Route(HEALTH_PATH, health_check, methods=["GET"]),
        *routes,
    ]
    if metrics is not None:
        served.append(metrics_route(metrics))
    return Starlette(routes=served)


def _parsed(
    req: Request, body: bytes, addition_context_properties: dict[str, Any] | None
) -> BoltRequest | None:
    """Bolt's request for ``body``, or ``None`` (logged) when it is not one we serve."""
    try:
        bolt_request = _form_read_in_full(to_bolt_request(req, body, addition_context_properties))
    except MALFORMED as exc:
        log.info("refused a signed request that does not parse (%s)", type(exc).__name__)
        return None
    problem = payload_problem(bolt_request.body)
    if problem:
        log.info("refused a signed request: %s", problem)
        return None
    return bolt_request


def _form_read_in_full(bolt_request: BoltRequest) -> BoltRequest:
    """``bolt_request`` with its form's fields when Bolt read them as nothing.

    Bolt takes a form body that contains the word "payload" anywhere for an
    interaction's ``payload=`` field, and a form without that field for an empty
    body: ``/migrate status payload_store`` would reach no listener and be
    answered 400. Here such a form is read as the fields it has, as Slack means it.
    """
    raw = bolt_request.raw_body
    if bolt_request.body or not raw or raw.startswith("{"):
        return bolt_request
    if bolt_request.content_type == "application/json":
        return bolt_request
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    if "payload" in fields:
        return bolt_request
    bolt_request.body = fields
    bolt_request.context = build_context(BoltContext(bolt_request.context), fields)
    return bolt_request


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
