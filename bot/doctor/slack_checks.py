"""A real workspace's set-up, checked through the Web API as the bot will use it.

One ``Finding`` a line: the bot token (``auth.test``), its scopes against the
manifest's (the ``X-OAuth-Scopes`` header Slack sends with every answer), Socket
Mode's app-level token (``apps.connections.open``, as the bot's connection opens) or
HTTP mode's signing secret, the bot's membership of the ops channel
(``conversations.info``), and each approver (``users.info``) and user group
(``usergroups.list``). Nothing is posted.
"""

from __future__ import annotations

import re
import urllib.error
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.adapters.slack_settings import (
    APP_TOKEN_ENV,
    BOT_TOKEN_ENV,
    SIGNING_SECRET_ENV,
    SlackSettings,
)
from bot.slack_api.scopes import APP_TOKEN_SCOPE, BOT_SCOPES
from commands.config.targets_file import USER_GROUP, Config
from commands.doctor.finding import Finding, fail, ok, skip, warn

TIMEOUT_S = 10
SIGNING_SECRET = re.compile(r"^[0-9a-f]{32}$")
INSTALL = "OAuth & Permissions → Install to Workspace (or Reinstall)"
BOT_TOKEN_HELP = f"set {BOT_TOKEN_ENV} to the Bot User OAuth Token (xoxb-…) of {INSTALL}"
APP_TOKEN_HELP = (
    f"set {APP_TOKEN_ENV} to an app-level token (xapp-…): Basic Information → App-Level"
    f" Tokens → Generate Token and Scopes, with the scope {APP_TOKEN_SCOPE}"
)


class SlackProblem(Exception):
    """A Web API call that did not answer ``ok``: Slack's error code, or why it could not."""


def check_slack(settings: SlackSettings, config: Config) -> list[Finding]:
    """Every Slack line of the doctor, asked of ``settings.api_url``."""

    def make(token: str) -> WebClient:
        return WebClient(token, base_url=settings.api_url, timeout=TIMEOUT_S)

    if not settings.bot_token:
        return [
            fail("slack token", f"{BOT_TOKEN_ENV} is not set", BOT_TOKEN_HELP),
            connection_finding(settings, make),
        ]
    web = make(settings.bot_token)
    try:
        answer = _call(web.auth_test)
    except SlackProblem as exc:
        return [
            fail("slack token", f"auth.test: {exc}", BOT_TOKEN_HELP),
            connection_finding(settings, make),
            skip("slack workspace", "the channel and the approvers need a working bot token"),
        ]
    who = f"@{answer.get('user')} ({answer.get('user_id')}) in {answer.get('team')}"
    return [
        ok("slack token", f"auth.test: {who} ({answer.get('team_id')})"),
        scopes_finding(_header(answer, "x-oauth-scopes")),
        connection_finding(settings, make),
        channel_finding(web, config.bot.ops_channel),
        *approver_findings(web, config),
    ]


def scopes_finding(granted_header: str | None) -> Finding:
    if granted_header is None:
        return warn(
            "slack scopes",
            "Slack did not say which scopes the token has (no X-OAuth-Scopes header)",
            "compare OAuth & Permissions → Scopes with slack-manifest.yml's by hand",
        )
    granted = {s.strip() for s in granted_header.split(",") if s.strip()}
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if missing:
        return fail(
            "slack scopes",
            f"the bot token lacks {', '.join(missing)}",
            "add them under OAuth & Permissions → Scopes (or paste slack-manifest.yml again"
            f" in App Manifest), then {INSTALL}: a token keeps the scopes it was installed with",
        )
    return ok("slack scopes", f"every scope slack-manifest.yml asks for ({len(BOT_SCOPES)})")


def connection_finding(settings: SlackSettings, make: Callable[[str], WebClient]) -> Finding:
    """Socket Mode's app-level token opens a connection; or HTTP mode's signing secret."""
    if settings.app_token:
        if not settings.app_token.startswith("xapp-"):
            return fail("socket mode", f"{APP_TOKEN_ENV} is not an app-level token", APP_TOKEN_HELP)
        try:
            _call(
                lambda: make(str(settings.app_token)).apps_connections_open(
                    app_token=str(settings.app_token)
                )
            )
        except SlackProblem as exc:
            return fail("socket mode", f"apps.connections.open: {exc}", APP_TOKEN_HELP)
        return ok("socket mode", f"{APP_TOKEN_ENV} opens a connection ({APP_TOKEN_SCOPE})")
    if settings.signing_secret:
        if not SIGNING_SECRET.match(settings.signing_secret):
            return fail(
                "http mode",
                f"{SIGNING_SECRET_ENV} is not 32 hexadecimal characters",
                "copy the Signing Secret of Basic Information → App Credentials again",
            )
        return ok(
            "http mode",
            f"{SIGNING_SECRET_ENV} is set: Slack must reach https://YOUR-HOST/slack/events"
            " (slack-manifest.yml's URLs, Socket Mode off)",
        )
    return fail(
        "socket mode",
        f"neither {APP_TOKEN_ENV} (Socket Mode) nor {SIGNING_SECRET_ENV} (HTTP mode) is set",
        APP_TOKEN_HELP,
    )


def channel_finding(web: WebClient, channel: str | None) -> Finding:
    check = "ops channel"
    if channel is None:
        return warn(
            check, "[bot] ops_channel is not set: runs are announced nowhere", _CHANNEL_HELP
        )
    try:
        info = _call(lambda: web.conversations_info(channel=channel)).get("channel") or {}
    except SlackProblem as exc:
        return fail(check, f"{channel}: conversations.info: {exc}", _CHANNEL_HELP)
    name = f"#{info.get('name', channel)} ({channel})"
    if info.get("is_archived"):
        return fail(check, f"{name} is archived", "unarchive it, or set another ops_channel")
    if not info.get("is_member"):
        return fail(
            check,
            f"{name}: the bot is not a member (it posts there, and reads back what it posted"
            " after a crash)",
            f"type /invite @{_BOT_NAME} in #{info.get('name', channel)}",
        )
    return ok(check, f"{name}: the bot is a member")


def approver_findings(web: WebClient, config: Config) -> list[Finding]:
    """One line per approver (a user id or a user group) of any target."""
    approvers: dict[str, list[str]] = {}
    for target in config.targets.values():
        for approver in target.approvers:
            approvers.setdefault(approver, []).append(target.name)
    groups: dict[str, dict[str, Any]] | SlackProblem | None = None
    found = []
    for approver, targets in approvers.items():
        of = f"approver of {', '.join(targets)}"
        if USER_GROUP.match(approver):
            if groups is None:
                groups = _groups(web)
            found.append(group_finding(approver, of, groups))
        else:
            found.append(user_finding(web, approver, of))
    return found


def user_finding(web: WebClient, user: str, of: str) -> Finding:
    check = f"approver {user}"
    try:
        info = _call(lambda: web.users_info(user=user)).get("user") or {}
    except SlackProblem as exc:
        return fail(check, f"{of}: users.info: {exc}", _USER_HELP)
    name = f"@{info.get('name', user)}"
    if info.get("deleted"):
        return fail(check, f"{name}, {of}, is deactivated", "remove them from approvers")
    if info.get("is_bot"):
        return fail(check, f"{name}, {of}, is a bot", "approvers are people: " + _USER_HELP)
    return ok(check, f"{name}, {of}")


def group_finding(group: str, of: str, groups: dict[str, dict[str, Any]] | SlackProblem) -> Finding:
    check = f"approver {group}"
    if isinstance(groups, SlackProblem):
        return fail(check, f"{of}: usergroups.list: {groups}", "see the scopes line")
    found = groups.get(group.removeprefix("@")) or groups.get(group)
    if found is None:
        return fail(
            check,
            f"{of}: no user group {group} in this workspace",
            "check the handle (People → User groups), or list user ids",
        )
    if found.get("date_delete"):
        return fail(check, f"{of}: {group} is disabled", "enable it, or list another group")
    members = found.get("users") or []
    if not members:
        return warn(check, f"{of}: {group} has no members", "add the approvers to the group")
    return ok(check, f"{of}: {len(members)} member(s)")


def _groups(web: WebClient) -> dict[str, dict[str, Any]] | SlackProblem:
    """Every user group by handle and by id (or why they cannot be listed)."""
    try:
        answer = _call(lambda: web.usergroups_list(include_users=True, include_disabled=True))
    except SlackProblem as exc:
        return exc
    listed: Iterable[dict[str, Any]] = answer.get("usergroups") or ()
    return {key: g for g in listed for key in (str(g.get("handle")), str(g.get("id")))}


def _call(call: Callable[[], Any]) -> dict[str, Any]:
    """The answer's data, its headers under ``_headers``; raises ``SlackProblem``."""
    try:
        response = call()
    except SlackApiError as exc:
        error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
        needed = exc.response.get("needed")
        raise SlackProblem(f"{error}" + (f" (needs {needed})" if needed else "")) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise SlackProblem(f"Slack cannot be reached: {exc}") from None
    return {**response.data, "_headers": dict(response.headers or {})}


def _header(answer: dict[str, Any], name: str) -> str | None:
    headers = answer.get("_headers") or {}
    return next((str(v) for k, v in headers.items() if k.lower() == name), None)


_BOT_NAME = "migrate-bot"
_CHANNEL_HELP = (
    "set [bot] ops_channel to the channel's id: open the channel, click its name, the id"
    " (C…) is at the bottom of About; for a private channel, invite the bot first"
)
_USER_HELP = "use the member id from the person's profile: ⋮ → Copy member ID (U…)"
