"""The processes bench/ack.py times and waits on: the bare Bolt baselines, the local Slack
server, migrate-bot in HTTP mode, and the checks that each has started and drained.

The baselines and the Slack server run in processes of their own (``bench/ack.py
--serve-bare PORT`` and the like call the functions here), so the senders' timings
stay clean of their work.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.local_slack.server import LocalSlackServer  # noqa: E402
from bot.local_slack.workspace import Workspace  # noqa: E402
from commands.state.schema import SEARCH_PATH  # noqa: E402

TOKEN = "xoxb-bench-0000-token"
APP_TOKEN = "xapp-bench-0000-token"
SECRET = "bench-signing-secret"
USER, CHANNEL = "U0BENCH", "C0BENCH"
APPROVER = "U0DEMOAPPR"  # the demo target's approver


def serve_bare(port: int) -> None:
    """The baseline: Bolt, same adapter and server, listeners that only ack."""
    import uvicorn
    from slack_bolt import App

    from bot.adapters.http_mode import http_app
    from bot.slack_api.replies import web_client

    app = App(
        token=TOKEN,
        signing_secret=SECRET,
        client=web_client(TOKEN, os.environ["SLACK_API_URL"]),
        process_before_response=True,
    )
    app.command("/migrate")(lambda ack: ack())
    app.action(re.compile(".*"))(lambda ack: ack())
    asgi = http_app(
        app, signing_secret=SECRET, health=lambda: {"status": "ok", "worker": {"pending": 0}}
    )
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_bare_socket() -> None:
    """The Socket Mode baseline: Bolt and its Socket Mode handler, listeners that only ack."""
    from slack_bolt import App
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.slack_api.replies import web_client

    client = web_client(TOKEN, os.environ["SLACK_API_URL"])
    app = App(token=TOKEN, client=client, process_before_response=True)
    app.command("/migrate")(lambda ack: ack())
    app.action(re.compile(".*"))(lambda ack: ack())
    SocketModeHandler(app, APP_TOKEN, web_client=client).start()


def serve_slack(port: int, socket_url: str) -> None:
    """The local Slack server in a process of its own, so senders' timings stay clean;
    ``apps.connections.open`` gives Socket Mode apps ``socket_url``."""
    users = {USER: "bench", APPROVER: "approver"}
    server = LocalSlackServer(
        Workspace(users=users),
        bot_token=TOKEN,
        port=port,
        app_token=APP_TOKEN,
        socket_url=socket_url,
    )
    with server:
        signal.sigwait([signal.SIGTERM, signal.SIGINT])


def slack_env(slack_url: str) -> dict[str, str]:
    """The environment of a bot in HTTP mode whose Slack is the local server at ``slack_url``."""
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": f"{slack_url}/api/",
    }
    env.pop("SLACK_APP_TOKEN", None)
    return env


def serve_http(port: int) -> list[str]:
    """``migrate-bot serve`` in HTTP mode on ``port`` of the loopback."""
    migrate_bot = str(Path(sys.executable).with_name("migrate-bot"))
    return [migrate_bot, "serve", "--mode", "http", "--host", "127.0.0.1", "--port", str(port)]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return json.load(answer)
    except OSError:
        return None


def start(
    argv: list[str], env: dict[str, str], url: str, ready: str = "/health"
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not answers(f"{url}{ready}"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{argv} did not start")
        time.sleep(0.1)
    return process


def drain(url: str, timeout: float = 900) -> float:
    """Wait until the bot's work pool is idle (embedded); seconds waited."""
    started = time.monotonic()
    while (health(url) or {}).get("worker", {}).get("pending", 1):
        if time.monotonic() - started > timeout:
            raise SystemExit("the bot's work pool did not drain")
        time.sleep(0.2)
    return time.monotonic() - started


def drain_queue(state_url: str, timeout: float = 900) -> float:
    """Wait until no Slack request waits in the shared job queue or is being replayed."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(state_url, options=SEARCH_PATH, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
                " AND task_name = 'migrate_bot:interaction'"
            ).fetchone()
            if not (row and row[0]):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise SystemExit("the workers did not drain the queue")
            time.sleep(0.2)
