"""The page's own routes: its files, and the three things a person can do on it.

The page reads the workspace through the local Slack server's long poll
(``/_local/changes``); here it gets what it cannot read there (who the
people are, the files' contents, the request log) and sends what a person
does (a command, a click, a Submit), which the bridge turns into signed
Slack requests. POSTs take JSON only, so another site's form cannot post
here from the user's browser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.listeners.slash import SLASH_COMMAND
from bot.local_slack.workspace import SlackMethodError, Workspace
from bot.sandbox.bridge import BridgeError, SlackBridge

STATIC = Path(__file__).resolve().parent / "static"
MAX_COMMAND = 4000  # Slack's own limit for a message box
PREVIEW_BYTES = 20_000


class PageInputError(ValueError):
    """The page sent something malformed."""


def page_routes(
    *, bridge: SlackBridge, setup: Callable[[], Mapping[str, Any]], workspace: Workspace
) -> list[BaseRoute]:
    """The routes of the page, for the sandbox's one web server: what a person does goes
    through ``bridge``, ``setup()`` draws the page, files are read from ``workspace``."""

    async def index(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def page_setup(_request: Request) -> Response:
        return JSONResponse(setup())

    async def command(request: Request) -> Response:
        body = await _json(request)
        text = _string(body, "text")
        if len(text) > MAX_COMMAND:
            raise PageInputError("that is longer than a message may be")
        command, _, rest = text.strip().partition(" ")
        if command != SLASH_COMMAND:
            raise PageInputError(f"{command} is not a command here: only {SLASH_COMMAND} is")
        sent = await run_in_threadpool(
            bridge.command,
            user=_string(body, "user"),
            channel=_string(body, "channel"),
            text=rest,
        )
        return JSONResponse({"status": sent.status, "seq": sent.seq})

    async def act(request: Request) -> Response:
        body = await _json(request)
        source = body.get("source")
        position = body.get("position")
        if not isinstance(source, dict) or not isinstance(position, int):
            raise PageInputError("source (an object) and position (a number) are required")
        sent = await run_in_threadpool(
            bridge.act,
            user=_string(body, "user"),
            source=source,
            position=position,
            action_id=_string(body, "action_id"),
            value=body.get("value"),
            state=_state(body),
        )
        return JSONResponse({"status": sent.status, "seq": sent.seq})

    async def submit(request: Request) -> Response:
        body = await _json(request)
        try:
            submitted = await run_in_threadpool(
                bridge.submit,
                user=_string(body, "user"),
                view_id=_string(body, "view_id"),
                state=_state(body),
            )
        except SlackMethodError as exc:  # the bot answered with a view Slack would refuse
            return JSONResponse({"close": False, "errors": {"": f"invalid view: {exc.code}"}})
        return JSONResponse(
            {
                "status": submitted.sent.status,
                "close": submitted.close,
                "errors": submitted.errors,
            }
        )

    async def home(request: Request) -> Response:
        """The person opened the app's Home tab: Slack tells the bot (``app_home_opened``)."""
        body = await _json(request)
        sent = await run_in_threadpool(bridge.open_home, user=_string(body, "user"))
        return JSONResponse({"status": sent.status, "seq": sent.seq})

    async def requests(request: Request) -> Response:
        after = request.query_params.get("after", "0")
        sent = bridge.sent(int(after) if after.isdigit() else 0)
        return JSONResponse([asdict(s) for s in sent])

    def stored_file(request: Request) -> dict[str, Any]:
        stored = workspace.file(request.path_params["file_id"])
        if stored is None or stored.get("content") is None:
            raise PageInputError("no such file")
        return stored

    async def file(request: Request) -> Response:
        """A file's name and the start of its text, for the page's snippet."""
        stored = stored_file(request)
        content: bytes = stored["content"]
        return JSONResponse(
            {
                "id": stored["id"],
                "name": stored.get("name"),
                "title": stored.get("title"),
                "size": len(content),
                "preview": content[:PREVIEW_BYTES].decode("utf-8", "replace"),
                "truncated": len(content) > PREVIEW_BYTES,
            }
        )

    async def download(request: Request) -> Response:
        stored = stored_file(request)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(stored.get("name") or "file"))
        return Response(
            stored["content"],
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return [
        Route("/", index),
        Route("/sandbox/setup", _answering(page_setup)),
        Route("/sandbox/command", _answering(command), methods=["POST"]),
        Route("/sandbox/action", _answering(act), methods=["POST"]),
        Route("/sandbox/submit", _answering(submit), methods=["POST"]),
        Route("/sandbox/home", _answering(home), methods=["POST"]),
        Route("/sandbox/requests", _answering(requests)),
        Route("/sandbox/files/{file_id}", _answering(file)),
        Route("/sandbox/files/{file_id}/download", _answering(download)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def _answering(endpoint: Any) -> Any:
    """Bad input and the bridge's refusals become a 400 with the sentence, for the page."""

    async def wrapped(request: Request) -> Response:
        try:
            response: Response = await endpoint(request)
        except (PageInputError, BridgeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return response

    return wrapped


async def _json(request: Request) -> dict[str, Any]:
    if "application/json" not in request.headers.get("content-type", ""):
        raise PageInputError("send JSON")
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise PageInputError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise PageInputError("the body must be a JSON object")
    return body


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise PageInputError(f"{key} (a string) is required")
    return value


def _state(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    state = body.get("state") or {}
    if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
        raise PageInputError("state must map block positions to {action_id: value}")
    return state
