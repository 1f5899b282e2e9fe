"""A shared deployment as real processes: fronts (``migrate-bot serve``) and workers
(``migrate-bot worker``) on one PostgreSQL state, with the local Slack server in the test.

Every process gets the same targets file (``[bot] state_url_env``), bot token
and signing secret; each its own log file. A worker may be given extra
environment (a target's URL only it can see, as a worker placed in that
target's network). ``Deployment`` also reads the shared state as an auditor
would, and finds the worker a run is on (its ``run_started`` names the pid).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Message, Workspace
from commands.config.targets_file import Config, parse_config
from commands.requests import Request, RequestService
from commands.state.audit_log import open_audit_log
from commands.state.schema import SEARCH_PATH
from commands.state.vocabulary import EventKind
from tests.support.polling import wait_for
from tests.support.reliability.bot_process import TEAM, find_element, free_port
from tests.support.shared_state import STATE_URL_ENV
from tests.support.slack_requests import SlackSender
from tests.support.socket_mode import SocketModeEndpoint

CLI = Path(sys.executable).with_name("migrate-bot")
ALICE, BOB = "U0ALICE", "U0BOB"
DEV, OPS = "C0DEV", "C0OPS"


@dataclass
class Process:
    """One child process of the deployment and its log."""

    name: str
    argv: list[str]
    log_path: Path
    environ: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None
    port: int | None = None

    def start(self, cwd: Path) -> Process:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=self.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL (its Alembic child dies with it: PR_SET_PDEATHSIG)."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Deployment:
    """N fronts and M workers on the shared state at ``state_url``."""

    root: Path
    state_url: str
    targets_toml: str
    users: Mapping[str, str] = field(default_factory=lambda: {ALICE: "alice", BOB: "bob"})
    channels: Mapping[str, str] = field(default_factory=lambda: {DEV: "dev", OPS: "ops"})
    environ: Mapping[str, str] = field(default_factory=dict)
    socket: SocketModeEndpoint | None = None  # where Socket Mode fronts connect

    def __post_init__(self) -> None:
        self.token = f"xoxb-{secrets.token_hex(12)}"
        self.app_token = f"xapp-{secrets.token_hex(12)}"
        self.secret = secrets.token_hex(32)
        self.slack = LocalSlackServer(
            Workspace(users=dict(self.users), channels=dict(self.channels)),
            bot_token=self.token,
            app_token=self.app_token,
            socket_url=self.socket.url if self.socket else None,
        )
        text = textwrap.dedent(
            f"""
            [bot]
            state_url_env = "{STATE_URL_ENV}"
            ops_channel = "{OPS}"
            """
        ) + textwrap.dedent(self.targets_toml)
        self.config_path = self.root / "migrate-bot.toml"
        self.config_path.write_text(text)
        self.config: Config = parse_config(text, source=str(self.config_path), base=self.root)
        self.fronts: list[Process] = []
        self.workers: list[Process] = []
        self._slack_up = False

    def _slack(self) -> None:
        if not self._slack_up:
            self.slack.start()
            self._slack_up = True

    # --- processes --------------------------------------------------------------

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            **os.environ,
            **self.environ,
            **(extra or {}),
            STATE_URL_ENV: self.state_url,
            "MIGRATE_BOT_CONFIG": str(self.config_path),
            "SLACK_BOT_TOKEN": self.token,
            "SLACK_SIGNING_SECRET": self.secret,
            "SLACK_API_URL": self.slack.api_url,
            "PYTHONUNBUFFERED": "1",
        }

    def start_front(self) -> Process:
        self._slack()
        port = free_port()
        name = f"front{len(self.fronts) + 1}"
        argv = [str(CLI), "-v", "serve", "--mode", "http", "--host", "127.0.0.1"]
        front = Process(name, [*argv, "--port", str(port)], self.root / f"{name}.log", self.env())
        front.port = port
        self.fronts.append(front.start(self.root))
        wait_for(lambda: self._healthy(front), 90, f"{name}'s /health")
        return front

    def start_socket_front(self) -> Process:
        """A front in Socket Mode: it holds a connection to ``socket`` (Slack gives each
        envelope to one of an app's connections)."""
        assert self.socket is not None, "give the deployment a SocketModeEndpoint"
        self._slack()
        name = f"front{len(self.fronts) + 1}"
        argv = [str(CLI), "-v", "serve", "--mode", "socket"]
        environ = self.env({"SLACK_APP_TOKEN": self.app_token})
        front = Process(name, argv, self.root / f"{name}.log", environ)
        before = self.socket.connections
        self.fronts.append(front.start(self.root))
        wait_for(
            lambda: self._running(front) and self.socket.connections > before,  # type: ignore[union-attr]
            90,
            f"{name} to connect",
        )
        return front

    def start_worker(
        self,
        *queues: str,
        environ: Mapping[str, str] | None = None,
        concurrency: int = 2,
        metrics_port: int | None = None,
    ) -> Process:
        self._slack()
        name = f"worker{len(self.workers) + 1}"
        argv = [str(CLI), "-v", "worker", "--concurrency", str(concurrency)]
        argv += [arg for queue in queues for arg in ("--queue", queue)]
        argv += ["--metrics-port", str(metrics_port)] if metrics_port is not None else []
        worker = Process(name, argv, self.root / f"{name}.log", self.env(environ))
        before = self.registered_workers()
        self.workers.append(worker.start(self.root))
        wait_for(
            lambda: self._running(worker) and self.registered_workers() > before,
            90,
            f"{name} to register",
        )
        return worker

    def registered_workers(self) -> int:
        """Workers procrastinate knows (one row each, with a heartbeat)."""
        if not self._has_schema():
            return 0
        return int(self.query("SELECT count(*) FROM procrastinate_workers")[0][0])

    def _has_schema(self) -> bool:
        return bool(self.query("SELECT to_regclass('procrastinate_workers') IS NOT NULL")[0][0])

    def _running(self, process: Process) -> bool:
        if not process.alive():
            raise AssertionError(f"{process.name} exited: {process.log()[-3000:]}")
        return True

    def _healthy(self, front: Process) -> bool:
        import urllib.request

        self._running(front)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{front.port}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def close(self) -> None:
        for process in [*self.fronts, *self.workers]:
            process.stop()
        if self._slack_up:
            self.slack.stop()

    # --- Slack, through one front or another ---------------------------------------

    def sender(self, front: Process) -> SlackSender:
        return SlackSender(
            bot_url=f"http://127.0.0.1:{front.port}",
            signing_secret=self.secret,
            mint=self.slack.interaction_ids,
            team_id=TEAM,
        )

    def messages(self, channel: str) -> list[Message]:
        found = list(self.slack.workspace.messages.get(channel, {}).values())
        return [m for m in found if m.thread_ts in (None, m.ts)]

    def socket_sender(self) -> SlackSender:
        """Builds requests for Socket Mode envelopes (it posts nowhere)."""
        return SlackSender("http://unused", self.secret, self.slack.interaction_ids, TEAM)

    def click_body(
        self,
        via: Process | SlackSender,
        message: Message,
        action_id: str,
        *,
        user: str,
        **element: object,
    ) -> bytes:
        """A click on ``message``'s ``action_id`` as ``user``, built for a front (or a sender)."""
        button = find_element(message, action_id)
        sender = self.sender(via) if isinstance(via, Process) else via
        return sender.action_body(
            button["action_id"],
            button.get("value"),
            user=user,
            channel=message.channel,
            message_ts=message.ts,
            block_id=button.get("_block_id", "b"),
            element=element or None,
        )

    # --- the shared state, read as an auditor ---------------------------------------

    def query(self, sql: str, params: tuple[object, ...] | None = None) -> list[tuple[object, ...]]:
        with psycopg.connect(self.state_url, options=SEARCH_PATH, autocommit=True) as conn:
            return list(conn.execute(sql, params).fetchall())  # type: ignore[arg-type]

    def requests(self) -> RequestService:
        return RequestService(open_audit_log(self.config.bot.state), self.config)

    def request(self, request_id: str) -> Request:
        return self.requests().get(request_id)

    def events(self, request_id: str, kind: EventKind) -> list[dict[str, object]]:
        store = self.requests().store
        return [dict(e.data) for e in store.events(request_id=request_id, kinds=[kind.value])]

    def worker_running(self, request_id: str) -> Process:
        """The worker whose pid the run's ``run_started`` event names."""
        started = wait_for(lambda: self.events(request_id, EventKind.RUN_STARTED), 120, "the run")
        pid = int(started[0]["owner"]["pid"])  # type: ignore[index]
        return next(w for w in self.workers if w.pid == pid)

    def scheduler_holder(self) -> Process | None:
        """The process holding the scheduler's seat (its advisory lock's session)."""
        rows = self.query(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted"
            " AND a.application_name LIKE 'migrate-bot scheduler %'"
        )
        pids = {int(str(row[0]).rsplit(" ", 1)[1]) for row in rows}
        return next((p for p in self.workers if p.pid in pids), None)
