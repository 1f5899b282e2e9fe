"""The sandbox in one process: local Slack, the real bot, the demo database, the page.

One web server answers everything, on one port:

- ``/``, ``/static/…``, ``/sandbox/…``: the page and what it asks (``page``);
- ``/api/…``, ``/response/…``, ``/upload/…``, ``/_local/…``: the local
  Slack-compatible server (``bot.local_slack``), which the bot's Web API
  client is pointed at (its ``SLACK_API_URL``);
- ``/slack/events``, ``/health``: the real Bolt app in HTTP mode, which the
  page's actions reach as signed requests (``bridge``).

The bot token and signing secret are made up for the run. Start-up order
matters: the server listens first (Bolt calls ``auth.test`` when it is
built), then the bot is built, then the demo database is reset and the
simulated application (``commands.demo.workload``) starts sending it traffic;
until then ``/slack/events`` and ``/health`` answer 503.
"""

from __future__ import annotations

import secrets
import signal
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.adapters.http_mode import EVENTS_PATH, HEALTH_PATH, http_app
from bot.adapters.server_thread import ServerThread
from bot.adapters.slack_settings import SlackSettings
from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Workspace
from bot.metrics.exposition import MetricsServer
from bot.runtime import RunningBot
from bot.sandbox.bridge import SlackBridge
from bot.sandbox.page import page_routes
from bot.sandbox.people import People
from bot.sandbox.process_clock import seconds_since_start
from bot.sandbox.settings import WILDCARDS, SandboxSettings, first_line
from commands.config.fleet import member_target_name
from commands.config.targets_file import DEMO_FLEET, DEMO_SOURCE, DEMO_TARGET, Config
from commands.demo.demo_change import DeployedRelease, close_demo_changes
from commands.demo.reset import DemoReset, reset_demo_database, reset_demo_fleet
from commands.demo.workload import DemoWorkload
from commands.errors import ExitCode, MigrateBotError
from commands.targets import fleet_members, open_target

OPS_CHANNEL_NAME = "migrate-ops"
FALLBACK_OPS_CHANNEL = "C0SANDBOX"  # for a config without [bot] ops_channel
FLEET_ROWS_DIVISOR = 20  # each tenant of the demo fleet gets a twentieth of the demo's rows
SANDBOX_WATCH_S = 30.0  # the watch after a run, short enough to see it end
STOP_POLL_S = 0.2  # how soon the main thread sees a SIGINT or SIGTERM
BuildBot = Callable[[SlackSettings, Config], RunningBot]


def sandbox_config(config: Config, people: People) -> Config:
    """``config`` with the approver among the demo targets' approvers (so the two-person
    rule can be passed) and the requester not (so it can be seen refusing), and a short
    watch after each run of the demo target (unless the config sets one). A targets file
    of the user's is tried as ``own_targets_config`` says."""
    if config.path != DEMO_SOURCE:
        return own_targets_config(config, people)
    targets = dict(config.targets)
    for name in (DEMO_TARGET, DEMO_FLEET):
        if name not in targets:
            continue
        target = targets[name]
        approvers = tuple(a for a in target.approvers if a != people.requester.id)
        if people.approver.id not in approvers:
            approvers = (people.approver.id, *approvers)
        watch = target.watch
        if name == DEMO_TARGET and not watch.enabled:
            watch = replace(watch, period=SANDBOX_WATCH_S)
        targets[name] = replace(target, approvers=approvers, watch=watch)
    return replace(config, targets=targets)


def own_targets_config(config: Config, people: People) -> Config:
    """The user's targets in the sandbox: the sandbox's approver approves every target, alone
    (the people of the file are in Slack, not here), requests may come from its one channel,
    nobody else is told, and the audit log is a file of its own beside the real state
    (``…-sandbox.sqlite3``), so nothing tried here enters the real record. The databases,
    projects and backups are the file's: runs are real."""
    targets = {
        name: replace(
            target,
            approvers=(people.approver.id,),
            approvals=1,
            quorum={},
            allowed_channels=(),
            stakeholders=(),
        )
        for name, target in config.targets.items()
    }
    state = config.bot.state_path
    bot = replace(
        config.bot,
        state_path=state.with_name(f"{state.stem}-sandbox{state.suffix or '.sqlite3'}"),
        state_url_env=None,
    )
    return replace(config, bot=bot, targets=targets)


class PortInUseError(MigrateBotError):
    """The sandbox's address is taken (another sandbox, or another server)."""

    exit_code = ExitCode.REFUSED


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; raises ``PortInUseError`` saying what to do."""
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        raise PortInUseError(
            f"cannot listen on {host}:{port} ({exc.strerror}): is a sandbox already running"
            " there? `--port N` picks another port"
        ) from None


class _Deferred:
    """An ASGI app that answers 503 until the real one is set."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            await PlainTextResponse("the sandbox is starting", status_code=503)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


class Sandbox:
    """``start()`` serves (page, local Slack, bot); ``prepare()`` resets the demo database."""

    def __init__(
        self,
        *,
        config: Config,
        settings: SandboxSettings,
        build_bot: BuildBot,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = sandbox_config(config, settings.people)
        self.settings = settings
        self.people = settings.people
        self._build_bot = build_bot
        self._socket = _listen(host, port)
        self.host = host
        self.port = self._socket.getsockname()[1]
        self.ops_channel = self.config.bot.ops_channel or FALLBACK_OPS_CHANNEL
        self.token = f"xoxb-sandbox-{secrets.token_hex(12)}"
        self.signing_secret = secrets.token_hex(32)
        self.slack = LocalSlackServer(
            self._workspace(), bot_token=self.token, host=self.local_host, port=self.port
        )
        self.bridge = SlackBridge(
            bot_url=self.local_url,
            signing_secret=self.signing_secret,
            slack=self.slack,
            people=self.people,
        )
        self.bot: RunningBot | None = None
        self.reset: DemoReset | None = None
        self.fleet_reset: dict[str, DemoReset] = {}
        self.app: DemoWorkload | None = None
        self.ready = False
        self.run_id = secrets.token_hex(6)  # a page that sees it change knows to reload
        self._bot = _Deferred()
        self._thread = ServerThread(self._asgi(), host=host, port=self.port, sock=self._socket)

    @property
    def local_host(self) -> str:
        """Where this process reaches itself (a wildcard bind is not an address to call)."""
        return "127.0.0.1" if self.host in WILDCARDS else self.host

    @property
    def local_url(self) -> str:
        return f"http://{self.local_host}:{self.port}"

    @property
    def url(self) -> str:
        """The page's address, to print and open."""
        return f"http://{self.local_host}:{self.port}/"

    def _workspace(self) -> Workspace:
        return Workspace(
            users={p.id: p.name for p in self.people.both},
            channels={self.ops_channel: OPS_CHANNEL_NAME},
        )

    def _asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route(EVENTS_PATH, self._bot, methods=["POST"]),
                Route(HEALTH_PATH, self._health, methods=["GET"]),
                *self.slack.routes(),
                *page_routes(bridge=self.bridge, setup=self.setup, workspace=self.slack.workspace),
            ]
        )

    # --- life ---------------------------------------------------------------

    def start(self) -> Sandbox:
        """Serve, build the bot against the local Slack, and be ready for commands."""
        self._thread.start()
        bot_settings = SlackSettings(
            bot_token=self.token, signing_secret=self.signing_secret, api_url=self.slack.api_url
        )
        self.bot = self._build_bot(bot_settings, self.config)
        self._bot.app = http_app(
            self.bot.app, signing_secret=self.signing_secret, health=self.health
        )
        return self

    @property
    def on_demo(self) -> bool:
        """Whether this is the built-in demo (else the user's own targets, left as they are)."""
        return self.config.path == DEMO_SOURCE

    def prepare(self) -> DemoReset | None:
        """Reset the demo database (first revision, ``rows`` rows) and, meanwhile, the demo
        fleet's members (fewer rows each); then start the simulated application's traffic
        on the demo database, and commands can come. The user's own targets are not
        touched: commands can come at once."""
        if not self.on_demo:
            self.ready = True
            return None
        with ThreadPoolExecutor(1) as pool:
            fleet = pool.submit(self._reset_fleet)
            handle = open_target(self.config.target(DEMO_TARGET))
            self.reset = reset_demo_database(handle, rows=self.settings.rows)
            self.fleet_reset = fleet.result()
        assert self.bot is not None
        store = self.bot.runtime.store
        close_demo_changes(store, DEMO_TARGET)  # the database they were about is gone
        self.app = DemoWorkload(
            handle.database, release=DeployedRelease(store, DEMO_TARGET)
        ).start()
        self.ready = True
        return self.reset

    def _reset_fleet(self) -> dict[str, DemoReset]:
        fleet = self.config.targets.get(DEMO_FLEET)
        if fleet is None or fleet.fleet is None:
            return {}
        members = list(fleet_members(fleet))
        return reset_demo_fleet(
            members,
            lambda m: open_target(self.config.target(member_target_name(DEMO_FLEET, m))),
            rows=max(1, self.settings.rows // FLEET_ROWS_DIVISOR),
        )

    def stop(self) -> None:
        """Stop the simulated application, then the bot (its runs aborted, its last messages
        delivered to the local Slack, which is still up), then the server."""
        if self.app is not None:
            self.app.stop()
        if self.bot is not None:
            self.bot.runtime.shutdown()
        self.slack.workspace.close()
        self._thread.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    async def _health(self, _request: Request) -> Response:
        """200 once commands can be served; 503 while the demo database is being reset."""
        return JSONResponse(self.health(), status_code=200 if self.ready else 503)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ready else "starting",
            "mode": "sandbox",
            "targets": sorted(self.config.targets),
            **(self.bot.runtime.health() if self.bot is not None else {}),
        }

    def setup(self) -> Mapping[str, Any]:
        """What the page needs to draw itself: people, channels, the bot's identity."""
        workspace = self.slack.workspace
        return {
            "ready": self.ready,
            "run_id": self.run_id,
            "team_id": self.bridge.team_id,
            "ops_channel": {"id": self.ops_channel, "name": OPS_CHANNEL_NAME},
            "people": [
                {
                    "id": p.id,
                    "name": p.name,
                    "role": p.role,
                    "dm": workspace.dm_channel(p.id),
                }
                for p in self.people.both
            ],
            "users": dict(workspace.users),
            "channels": dict(workspace.channels),
            "targets": {name: t.description for name, t in self.config.targets.items()},
            "reset": None
            if self.reset is None
            else {
                "revision": self.reset.revision,
                "pending": self.reset.pending,
                "rows": self.reset.rows,
            },
        }


def serve_sandbox(
    *,
    config: Config,
    settings: SandboxSettings,
    build_bot: BuildBot,
    host: str,
    port: int,
    echo: Callable[[str], None],
    metrics_port: int | None = None,
) -> None:
    """Run the sandbox until SIGINT or SIGTERM; tells the user where and what to do (and
    serves the bot's metrics on ``metrics_port``)."""
    # A list, not a threading.Event: the handler runs in the main thread between two
    # bytecodes, and Event.set() there took the Event's lock while stop.wait() held it
    # (SIGTERM from make and from the process group, a moment apart): the stop hung for
    # ever, seen with faulthandler's stacks in test_sandbox_make_run.
    signals: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, _frame: signals.append(received))
    began = time.monotonic() - (seconds_since_start() or 0.0)  # from the command's start
    sandbox = Sandbox(config=config, settings=settings, build_bot=build_bot, host=host, port=port)
    metrics = None
    try:
        sandbox.start()
        if not settings.announced:  # the command printed it already, before loading the bot
            echo(first_line(sandbox.url, on_demo=sandbox.on_demo, source=config.path))
        if metrics_port is not None and sandbox.bot is not None:
            metrics = MetricsServer(sandbox.bot.runtime.metrics, host=host, port=metrics_port)
            echo(f"Prometheus metrics: {metrics.url}")
        reset = sandbox.prepare()
        echo(_ready_text(sandbox, reset, time.monotonic() - began))
        while not signals:
            time.sleep(STOP_POLL_S)
        echo("stopping the sandbox")
    finally:
        if metrics is not None:
            metrics.stop()
        sandbox.stop()
    echo("the sandbox has stopped")


def _ready_text(sandbox: Sandbox, reset: DemoReset | None, seconds: float) -> str:
    people = sandbox.people
    if reset is None:
        return _own_targets_text(sandbox, seconds)
    rows = ", ".join(f"{n:,} {table}" for table, n in reset.rows.items())
    return "\n".join(
        [
            f"Ready in {seconds:.1f} s (since the command started). Open {sandbox.url} in a"
            " browser.",
            f"The demo database is at its first revision ({reset.revision}) with {rows};"
            f" {reset.pending} revisions are pending. It is reset at each start.",
            "A simulated application sends it queries; some still read videos.youtube_id,"
            " which the last revision drops: the request shows the evidence.",
            f"As {people.requester.name} (requester) type: /migrate upgrade demo",
            f"then switch to {people.approver.name} (approver), tick the live-use"
            " acknowledgement and click Approve.",
            "Or do it without downtime: /migrate change start demo rename-youtube-id posts the"
            " rename's phase card; confirming a deploy there deploys the simulated application's"
            " next release (docs/changes.md).",
            *_fleet_lines(sandbox),
            "Ctrl-C stops it.",
        ]
    )


def _own_targets_text(sandbox: Sandbox, seconds: float) -> str:
    people = sandbox.people
    return "\n".join(
        [
            f"Ready in {seconds:.1f} s (since the command started). Open {sandbox.url} in a"
            " browser.",
            f"Your targets, from {sandbox.config.path}: {', '.join(sandbox.config.targets)}."
            " Runs are real: an approved upgrade migrates that database and takes its backup.",
            f"Here {people.approver.name} approves every target, alone; the audit log is"
            f" {sandbox.config.bot.state_path}, apart from your real state.",
            f"As {people.requester.name} (requester) type: /migrate status, then /migrate plan"
            f" {next(iter(sandbox.config.targets))}.",
            "Ctrl-C stops it.",
        ]
    )


def _fleet_lines(sandbox: Sandbox) -> list[str]:
    """What the ready text says of the demo fleet, when there is one."""
    if not sandbox.fleet_reset:
        return []
    members = list(sandbox.fleet_reset)
    return [
        f"A fleet too: {DEMO_FLEET} has {len(members)} tenant databases ({', '.join(members)});"
        f" try /migrate status {DEMO_FLEET}, then /migrate upgrade {DEMO_FLEET}: one request,"
        " one approval, a canary first, then the rest in waves."
    ]
