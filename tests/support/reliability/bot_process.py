"""The bot as a real child process, talking to a local Slack server in the test process.

``BotProcess`` writes nothing itself: give it a targets file. It starts
``migrate-bot serve --mode http`` with ``SLACK_API_URL`` pointing at the local
Slack-compatible server, a bot token and a signing secret of its own, waits for
``GET /health``, and keeps everything the process prints in a log file (the
secrets tests search it). ``kill()`` sends SIGKILL; ``start()`` again is a
restart on the same state file, as a platform would do.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Message, Workspace
from tests.support.polling import wait_for
from tests.support.slack_requests import SlackSender

CLI = Path(sys.executable).with_name("migrate-bot")
TEAM = "T0LOCAL"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """One bot process at a time on ``config_path``; restartable; its output in ``log_path``."""

    def __init__(
        self,
        config_path: Path,
        *,
        workdir: Path,
        users: Mapping[str, str],
        channels: Mapping[str, str],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config_path = config_path
        self.workdir = workdir
        self.token = f"xoxb-{secrets.token_hex(12)}"
        self.signing_secret = secrets.token_hex(32)
        self.slack = LocalSlackServer(
            Workspace(users=users, channels=channels), bot_token=self.token
        )
        self.port = free_port()
        self.extra_env = dict(environ or {})
        self.log_path = workdir / "bot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.sender = SlackSender(
            bot_url=f"http://127.0.0.1:{self.port}",
            signing_secret=self.signing_secret,
            mint=self.slack.interaction_ids,
            team_id=TEAM,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.extra_env,
            "MIGRATE_BOT_CONFIG": str(self.config_path),
            "SLACK_BOT_TOKEN": self.token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_API_URL": self.slack.api_url,
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, timeout: float = 60) -> BotProcess:
        """Start (or restart) the bot and wait until ``/health`` answers 200."""
        if self.starts == 0:
            self.slack.start()
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115  # the child owns it while it runs
        log.write(f"\n--- start {self.starts} ---\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [
                str(CLI),
                "-v",
                "serve",
                "--mode",
                "http",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=self.workdir,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(self._healthy, timeout, "the bot's /health")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"the bot exited with {self.process.returncode}: see {self.log_path}"
            )
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> None:
        """SIGKILL the bot (only the bot: its Alembic child must die by itself)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM and wait: the graceful way a platform stops a process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        self.stop()
        self.slack.stop()

    def __enter__(self) -> BotProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- talking to it as Slack --------------------------------------------

    def command(self, text: str, *, user: str, channel: str) -> int:
        code, _ = self.sender.post(self.sender.command_body(text, user=user, channel=channel))
        return code

    def click(self, message: Message, action_id: str, *, user: str, **element: Any) -> int:
        """Click a button (or another element) of ``message`` as ``user``."""
        button = find_element(message, action_id)
        body = self.sender.action_body(
            button["action_id"],
            button.get("value"),
            user=user,
            channel=message.channel,
            message_ts=message.ts,
            block_id=button.get("_block_id", "b"),
            element=element or None,
        )
        code, _ = self.sender.post(body)
        return code

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of ``channel``, oldest first."""
        found = list(self.slack.workspace.messages.get(channel, {}).values())
        return [m for m in found if m.thread_ts in (None, m.ts)]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def find_element(message: Message, action_id_prefix: str) -> dict[str, Any]:
    """The first interactive element of ``message`` whose action_id starts with the prefix."""
    for block in message.blocks or []:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if str(element.get("action_id", "")).startswith(action_id_prefix):
                return {**element, "_block_id": block.get("block_id", "b")}
    raise AssertionError(f"no {action_id_prefix!r} element in {json.dumps(message.blocks)[:300]}")
