"""``POST /changes/confirm``: the deploy pipeline says a deploy phase's version is out.

Served in HTTP mode (and by the sandbox) when ``[bot] deploy_token_env`` names
a variable holding a token; the call must carry it as ``Authorization: Bearer
TOKEN`` (compared in constant time), or it is refused unread (401). The form or
JSON body names ``change`` (a name in flight, or ``C-N``), ``phase`` (its name or
number) and optionally ``by`` (the pipeline's run, recorded as ``deploy:BY``)
and ``target``. A phase that is not the current one is refused (409) with what
it waits for, so a pipeline can stop its deploy.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from commands.errors import ConfigError, ExitCode, MigrateBotError

log = logging.getLogger(__name__)

CONFIRM_PATH = "/changes/confirm"
MAX_BODY = 4096
MIN_TOKEN = 24
WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
STATUS = {ExitCode.BAD_INPUT: 400, ExitCode.REFUSED: 409, ExitCode.UNAVAILABLE: 503}

Confirm = Callable[[str, str, str, str | None], str]
"""``confirm(change, phase, by, target)``: what was done, in a sentence; raises
``MigrateBotError``."""


def confirm_route(confirm: Confirm, token: str) -> Route:
    expected = f"Bearer {token}".encode()

    async def endpoint(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not token or not hmac.compare_digest(given, expected):
            log.info("refused a deploy confirmation without the token")
            return JSONResponse({"ok": False, "error": "not authorised"}, status_code=401)
        body = await request.body()
        fields = _fields(body, request.headers.get("content-type", ""))
        if fields is None:
            return JSONResponse({"ok": False, "error": "say change and phase"}, status_code=400)
        change, phase, by, target = fields
        try:
            said = await run_in_threadpool(confirm, change, phase, by, target)
        except MigrateBotError as exc:
            status = STATUS.get(exc.exit_code, 500)
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=status)
        return JSONResponse({"ok": True, "said": said})

    return Route(CONFIRM_PATH, endpoint, methods=["POST"])


def _fields(body: bytes, content_type: str) -> tuple[str, str, str, str | None] | None:
    """(change, phase, by, target) from a small form or JSON body; None if malformed."""
    if len(body) > MAX_BODY:
        return None
    try:
        text = body.decode("utf-8")
        data = json.loads(text) if "json" in content_type else dict(parse_qsl(text))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    values = {key: data.get(key) for key in ("change", "phase", "by", "target")}
    if any(v is not None and not (isinstance(v, str) and WORD.match(v)) for v in values.values()):
        return None
    change, phase = values["change"], values["phase"]
    if not change or not phase:
        return None
    return change, phase, values["by"] or "pipeline", values["target"]


def deploy_routes(
    token_env: str | None, confirm: Confirm | None, environ: Mapping[str, str]
) -> list[Route]:
    """The confirmation route when ``[bot] deploy_token_env`` is set (none otherwise);
    raises ``ConfigError`` when its variable holds no token."""
    if token_env is None or confirm is None:
        return []
    token = environ.get(token_env, "")
    if len(token) < MIN_TOKEN:
        raise ConfigError(
            f"${token_env}",
            "bot.deploy_token_env",
            f"must hold a token of at least {MIN_TOKEN} characters (e.g. `openssl rand -hex 32`)",
        )
    return [confirm_route(confirm, token)]
