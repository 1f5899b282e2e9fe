"""How the bot reaches Slack, from the environment; which mode ``serve`` runs in.

``SLACK_APP_TOKEN`` set: Socket Mode (no public URL). Else ``SLACK_SIGNING_SECRET``
and ``SLACK_BOT_TOKEN``: HTTP mode. Neither: no Slack at all (the local sandbox
slots in there). ``SLACK_API_URL`` points the Web API elsewhere (GovSlack, or
a local Slack-compatible server). The tokens are handed to the redactor so
they can never be quoted back in a log line or a message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from audit.redact import redactor
from commands.errors import ExitCode, MigrateBotError

BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"
APP_TOKEN_ENV = "SLACK_APP_TOKEN"
SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"
API_URL_ENV = "SLACK_API_URL"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000  # `serve`'s port when neither --port nor $PORT says
LOOPBACK = "127.0.0.1"  # the sandbox: a page that can approve migrations is for this machine only


class Mode(StrEnum):
    HTTP = "http"
    SOCKET = "socket"
    NO_SLACK = "none"


class SlackSettingsError(MigrateBotError):
    """The Slack environment variables are missing or do not fit together."""

    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SlackSettings:
        settings = cls(
            bot_token=environ.get(BOT_TOKEN_ENV) or None,
            signing_secret=environ.get(SIGNING_SECRET_ENV) or None,
            app_token=environ.get(APP_TOKEN_ENV) or None,
            api_url=_api_url(environ.get(API_URL_ENV) or DEFAULT_API_URL),
        )
        redactor.remember(settings.bot_token, settings.signing_secret, settings.app_token)
        return settings

    @property
    def mode(self) -> Mode:
        """The mode the credentials ask for (not yet checked: see ``require``)."""
        if self.app_token:
            return Mode.SOCKET
        if self.bot_token or self.signing_secret:
            return Mode.HTTP
        return Mode.NO_SLACK

    def require(self, mode: Mode) -> None:
        """Raise ``SlackSettingsError`` naming what ``mode`` lacks."""
        needed = {
            Mode.HTTP: (BOT_TOKEN_ENV, SIGNING_SECRET_ENV),
            Mode.SOCKET: (BOT_TOKEN_ENV, APP_TOKEN_ENV),
            Mode.NO_SLACK: (),
        }[mode]
        values = {
            BOT_TOKEN_ENV: self.bot_token,
            SIGNING_SECRET_ENV: self.signing_secret,
            APP_TOKEN_ENV: self.app_token,
        }
        missing = [name for name in needed if not values[name]]
        if missing:
            raise SlackSettingsError(f"{mode.value} mode needs ${' and $'.join(missing)} to be set")
        if mode is Mode.SOCKET and not str(self.app_token).startswith("xapp-"):
            raise SlackSettingsError(f"${APP_TOKEN_ENV} must be an app-level token (xapp-…)")


def _api_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise SlackSettingsError(f"${API_URL_ENV} must be an http(s) URL, not {url!r}")
    return url if url.endswith("/") else url + "/"
