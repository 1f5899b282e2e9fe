"""A local Slack-compatible Web API server, for tests, benchmarks and the sandbox.

Point the bot's ``SLACK_API_URL`` at ``server.api_url`` and it posts here as it
would to Slack: ``/api/<method>`` with a bearer token, JSON, form or query
arguments. Every call is recorded (never the token); faults can be injected;
interactions' ``response_url``s and file upload URLs are served too.

    with LocalSlackServer(bot_token="xoxb-test") as slack:
        slack.inject(Fault("chat.update", status=429, retry_after=2))
        ...
        slack.calls("chat.postMessage")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.adapters.server_thread import ServerThread
from bot.local_slack.faults import Fault, FaultPlan
from bot.local_slack.workspace import RecordedCall, SlackMethodError, Workspace
from bot.slack_api.scopes import BOT_SCOPES

JSON_ARGS = ("blocks", "view", "files", "attachments", "metadata")
RESPONSE_URL = "response_url"
SOCKET_OPEN = "apps.connections.open"

Method = Callable[[Workspace, Mapping[str, Any]], dict[str, Any]]
METHODS: dict[str, Method] = {
    "auth.test": Workspace.auth_test,
    "chat.postMessage": Workspace.post_message,
    "chat.update": Workspace.update_message,
    "chat.delete": Workspace.delete_message,
    "chat.postEphemeral": Workspace.post_ephemeral,
    "chat.getPermalink": Workspace.get_permalink,
    "views.open": Workspace.open_view,
    "views.update": Workspace.update_view,
    "views.publish": Workspace.publish_view,
    "usergroups.list": Workspace.usergroups_list,
    "usergroups.users.list": Workspace.usergroup_users,
    "users.info": Workspace.user_info,
    "conversations.open": Workspace.open_conversation,
    "conversations.info": Workspace.conversation_info,
    "conversations.history": Workspace.history,
    "conversations.replies": Workspace.replies,
    "files.getUploadURLExternal": Workspace.start_upload,
    "files.completeUploadExternal": Workspace.complete_upload,
}


class LocalSlackServer:
    """The server on a free local port; ``start()``/``stop()`` or a ``with`` block."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        bot_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        app_token: str | None = None,
        socket_url: str | None = None,
        scopes: tuple[str, ...] = BOT_SCOPES,
    ) -> None:
        self.workspace = workspace or Workspace()
        self.faults = FaultPlan()
        self.bot_token = bot_token
        self.app_token = app_token  # with socket_url: Socket Mode's apps.connections.open
        self.socket_url = socket_url
        self.scopes = scopes  # the bot token's, told in X-OAuth-Scopes as Slack does
        self._responders: dict[str, tuple[str, str, str | None]] = {}
        self._lock = threading.Lock()
        self.app = Starlette(routes=self.routes())
        self._thread = ServerThread(self.app, host=host, port=port)

    def routes(self) -> list[Route]:
        """The HTTP routes, for a host app (the sandbox) that serves them beside its own."""
        return [
            Route("/api/{method}", self._api, methods=["GET", "POST"]),
            Route("/response/{token}", self._response_url, methods=["POST"]),
            Route("/upload/{file_id}", self._upload, methods=["POST"]),
            Route("/_local/changes", self._changes, methods=["GET"]),
            Route("/_local/interaction", self._interaction, methods=["POST"]),
        ]

    # --- lifecycle ------------------------------------------------------------

    def start(self) -> LocalSlackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop()

    def __enter__(self) -> LocalSlackServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._thread.url

    @property
    def api_url(self) -> str:
        """What ``SLACK_API_URL`` / ``WebClient(base_url=...)`` should be."""
        return f"{self.url}/api/"

    # --- for tests and the sandbox ---------------------------------------------

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every recorded call, or those to ``method``, oldest first."""
        return self.workspace.calls_to(method)

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A ``response_url`` to put in an interaction payload, as Slack would."""
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._responders[token] = (channel, user, message_ts)
        return f"{self.url}/response/{token}"

    def interaction_ids(
        self, channel: str, user: str, message_ts: str | None = None
    ) -> tuple[str, str]:
        """A fresh ``trigger_id`` and ``response_url`` for an interaction payload."""
        return self.workspace.new_trigger_id(user), self.response_url(channel, user, message_ts)

    # --- handlers ------------------------------------------------------------

    async def _changes(self, request: Request) -> Response:
        """Long poll for another process (a browser page, a benchmark): changes after
        ``?after=N``, waiting up to ``?timeout=S`` (at most 30) for the first."""
        try:
            after = int(request.query_params.get("after", "0"))
            timeout = min(30.0, float(request.query_params.get("timeout", "0")))
        except ValueError:
            return PlainTextResponse("after and timeout are numbers", status_code=400)
        changes = await run_in_threadpool(self.workspace.wait_for_changes, after, timeout)
        return JSONResponse([asdict(c) for c in changes])

    async def _interaction(self, request: Request) -> Response:
        """``interaction_ids`` for another process: JSON ``{channel, user, message_ts?}``."""
        args, _token = await _arguments(request)
        channel, user = str(args.get("channel") or ""), str(args.get("user") or "")
        if not (channel and user):
            return PlainTextResponse("channel and user are required", status_code=400)
        trigger_id, response_url = self.interaction_ids(channel, user, args.get("message_ts"))
        return JSONResponse({"trigger_id": trigger_id, "response_url": response_url})

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args, token = await _arguments(request)
        if method == SOCKET_OPEN:
            return await self._faulted(method, args, lambda: self._open_socket(request, token))
        if not self._authorized(request, token):
            return self._answer(method, args, lambda: _fail("invalid_auth"))
        handler = METHODS.get(method)
        if handler is None:
            return self._answer(method, args, lambda: _fail("unknown_method"))
        if method == "files.getUploadURLExternal":
            return await self._faulted(method, args, lambda: self._start_upload(args))
        return await self._faulted(method, args, lambda: handler(self.workspace, args))

    def _open_socket(self, request: Request, token: str) -> dict[str, Any]:
        """Socket Mode's one method: the WebSocket URL, for the app-level token only."""
        header = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not self.socket_url or (header or token) != self.app_token:
            return _fail("invalid_auth")
        return {"ok": True, "url": self.socket_url}

    def _start_upload(self, args: Mapping[str, Any]) -> dict[str, Any]:
        started = self.workspace.start_upload(args)
        return {**started, "upload_url": f"{self.url}/upload/{started['file_id']}"}

    async def _response_url(self, request: Request) -> Response:
        target = self._responders.get(request.path_params["token"])
        args, _token = await _arguments(request)
        if target is None:
            return PlainTextResponse("no_service", status_code=404)
        channel, user, message_ts = target
        return await self._faulted(
            RESPONSE_URL, args, lambda: self.workspace.respond(channel, user, message_ts, args)
        )

    async def _upload(self, request: Request) -> Response:
        try:
            self.workspace.receive_upload(request.path_params["file_id"], await request.body())
        except SlackMethodError:
            return PlainTextResponse("not found", status_code=404)
        return PlainTextResponse("OK")

    def _authorized(self, request: Request, token: str) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() or token
        return bool(token) and (self.bot_token is None or token == self.bot_token)

    async def _faulted(
        self, method: str, args: dict[str, Any], call: Callable[[], dict[str, Any]]
    ) -> Response:
        fault = self.faults.take(method, args)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            return self._http_fault(method, args, fault)
        if fault is not None and fault.error is not None:
            error = fault.error
            return self._answer(method, args, lambda: _fail(error))
        return self._answer(method, args, call)

    def _http_fault(self, method: str, args: dict[str, Any], fault: Fault) -> Response:
        assert fault.status is not None
        if fault.status == 429:
            body: dict[str, Any] = {"ok": False, "error": "ratelimited"}
            self._record(method, args, 429, body)
            return JSONResponse(body, 429, headers={"Retry-After": str(fault.retry_after)})
        self._record(method, args, fault.status, {"ok": False, "error": "fault"})
        return PlainTextResponse("injected fault", status_code=fault.status)

    def _answer(
        self, method: str, args: dict[str, Any], call: Callable[[], dict[str, Any]]
    ) -> Response:
        try:
            body = {"ok": True, **call()}
        except SlackMethodError as exc:
            body = {"ok": False, "error": exc.code}
        self._record(method, args, 200, body)
        return JSONResponse(body, headers={"X-OAuth-Scopes": ",".join(self.scopes)})

    def _record(self, method: str, args: dict[str, Any], status: int, body: dict[str, Any]) -> None:
        self.workspace.record(RecordedCall(method, args, time.time(), status, body))


def _fail(code: str) -> dict[str, Any]:
    raise SlackMethodError(code)


async def _arguments(request: Request) -> tuple[dict[str, Any], str]:
    """The call's arguments (query, form or JSON body; JSON values decoded) and its token.

    The token is taken out so that it is never recorded.
    """
    args: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    kind = request.headers.get("content-type", "")
    if raw and "json" in kind:
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            args.update(decoded)
    elif raw:
        args.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    token = str(args.pop("token", "") or "")
    for key in JSON_ARGS:
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args, token
