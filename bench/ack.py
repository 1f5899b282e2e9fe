"""Time to HTTP 200 for `/migrate plan demo`, `status demo` and `help`, a "View SQL" click
and an Approve click, beside a bare Bolt app, for both deployments: embedded (one process)
and shared (a front and a worker on a PostgreSQL state), while a run is in progress.

All bots run as child processes behind the same server stack (uvicorn,
Starlette, Bolt's adapter). The real one is `migrate-bot serve --mode http`
on a copy of the demo target (the demo's embedded PostgreSQL, a database of
its own): embedded, with a state file in a temporary folder, it plans itself
(Alembic child processes) after each ack; shared (`[bot] state_url_env`), it
enqueues each request and a `migrate-bot worker` plans. The bare one only
acks. In both, a run is in progress the whole time: a second target whose
revision sleeps for ten minutes, approved before the first request is timed
(in the embedded bot's own process; on the shared deployment's worker). The
Approve clicks are the approver's, on a request whose checklist is not
ticked: each is checked against the policy and the audit log, refused, and
answered. Requests are signed as Slack signs them and sent over fresh
connections by 1 and 20 concurrent senders; the Web API is the local
Slack-compatible server. Bare and real alternate in rounds (so both meet the
same load from whatever else the machine runs); after each round the real
bot's work is drained (the "drain s" column: the work done after the acks).

    .venv/bin/python bench/ack.py [--requests-1 40] [--requests-20 100] [--only shared]
                                  [--cases plan,status,help,sql,approve]
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ack_processes import (  # noqa: E402
    APP_TOKEN,
    APPROVER,
    CHANNEL,
    SECRET,
    USER,
    drain,
    drain_queue,
    health,
    serve_bare,
    serve_bare_socket,
    serve_http,
    serve_slack,
    slack_env,
    start,
)
from bot.views.ids import ActionId  # noqa: E402
from commands.postgres.embedded import start_embedded_server  # noqa: E402
from tests.support.alembic_projects import Rev, write_project  # noqa: E402
from tests.support.databases import create_database, drop_database  # noqa: E402
from tests.support.s3_server import free_port  # noqa: E402
from tests.support.slack_requests import SlackSender, remote_ids  # noqa: E402
from tests.support.socket_mode import SocketModeEndpoint, envelope_of  # noqa: E402

STATE_URL_ENV = "BENCH_STATE_URL"
SLOW_RUN_S = 600  # the run in progress while acks are timed


def bench_config(folder: Path, *, shared: bool) -> Path:
    """The demo target on a database of its own (left at base: nothing is approved), and
    ``slow``, whose one revision sleeps while the acks are timed."""
    project = folder / "slow-project"
    if not project.exists():
        sleep = f"SELECT pg_sleep({SLOW_RUN_S})"
        write_project(project, [Rev("slow0001", (), (sleep,), (), "a long revision")])
    state = f'state_url_env = "{STATE_URL_ENV}"' if shared else ""
    path = folder / ("bench-shared.toml" if shared else "bench.toml")
    path.write_text(
        textwrap.dedent(
            f"""
            [bot]
            state_path = "{(folder / "state.sqlite3").as_posix()}"
            {state}

            [targets.demo]
            embedded_postgres = "{(ROOT / "var" / "postgres").as_posix()}"
            embedded_database = "bench_ack"
            script_location = "{(ROOT / "migrations").as_posix()}"
            approvers = ["{APPROVER}"]
            backup = "file://{(folder / "backups").as_posix()}"

            [targets.slow]
            embedded_postgres = "{(ROOT / "var" / "postgres").as_posix()}"
            embedded_database = "bench_slow"
            script_location = "{project.as_posix()}"
            approvers = ["{APPROVER}"]
            checklist = []
            backup = "file://{(folder / "backups").as_posix()}"
            backup_compression = "none"
            max_duration = "15min"
            """
        )
    )
    return path


@dataclass(frozen=True)
class Door:
    """How requests reach one app and are timed: over HTTP to its ``/slack/events``, or as
    Socket Mode envelopes to its connection (``endpoint``), the time to the ack."""

    sender: SlackSender  # builds the requests (ids minted by the local Slack server)
    endpoint: SocketModeEndpoint | None = None

    def timed(self, body: bytes) -> float:
        if self.endpoint is not None:
            return self.endpoint.send(*envelope_of(body))
        began = time.perf_counter()
        status, _ = self.sender.post(body)
        if status != 200:
            raise SystemExit(f"HTTP {status}")
        return (time.perf_counter() - began) * 1000


def run_phase(
    door: Door, build: Callable[[SlackSender], bytes], *, senders: int, total: int
) -> list[float]:
    """``total`` requests from ``senders`` threads; the latency of each, in ms (the
    request is built, ids minted, before the clock starts)."""
    per_sender = total // senders
    barrier = threading.Barrier(senders)

    def one_sender() -> list[float]:
        barrier.wait()
        return [door.timed(build(door.sender)) for _ in range(per_sender)]

    with ThreadPoolExecutor(senders) as pool:
        return [t for times in pool.map(lambda _: one_sender(), range(senders)) for t in times]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]  # nearest rank


def wait_for_button(slack_url: str, action_id: str, after: int = 0) -> tuple[str, str, int]:
    """The value and block id of the first ``action_id`` button the bot shows after change
    ``after`` (read through the local server's long poll), and the change it came in."""
    seen, deadline = after, time.monotonic() + 180
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{slack_url}/_local/changes?after={seen}&timeout=5") as got:
            changes = json.load(got)
        for change in changes:
            seen = change["seq"]
            for block in change["data"].get("blocks", []):
                for element in block.get("elements", []) if block["type"] == "actions" else []:
                    if element.get("action_id") == action_id:
                        return str(element["value"]), str(block["block_id"]), seen
    raise SystemExit(f"no {action_id} button came back")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests-1", type=int, default=40, help="requests at 1 sender")
    parser.add_argument("--requests-20", type=int, default=100, help="requests at 20 senders")
    parser.add_argument("--rounds", type=int, default=5, help="bare/bot alternations per case")
    parser.add_argument(
        "--only", choices=["embedded", "shared"], help="measure one deployment (default both)"
    )
    parser.add_argument("--cases", help="only these cases: plan,status,help,sql,approve")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare-socket", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-slack", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--socket-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    if args.serve_bare_socket:
        serve_bare_socket()
        return
    if args.serve_slack:
        serve_slack(args.serve_slack, args.socket_url)
        return
    with SocketModeEndpoint() as bots, SocketModeEndpoint() as bares:
        measure(args, bots, bares)


def measure(args: argparse.Namespace, bots: SocketModeEndpoint, bares: SocketModeEndpoint) -> None:
    """Slack, the two baselines, then each deployment in turn, printed as they go."""
    slack_port, bare_slack_port, bare_port = free_port(), free_port(), free_port()
    slack_url, bare_url = f"http://127.0.0.1:{slack_port}", f"http://127.0.0.1:{bare_port}"
    bare_slack_url = f"http://127.0.0.1:{bare_slack_port}"
    env = slack_env(slack_url)
    folder = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    me = [sys.executable, __file__]
    processes = []
    try:
        for port, socket_url, url in (
            (slack_port, bots.url, slack_url),
            (bare_slack_port, bares.url, bare_slack_url),
        ):
            argv = [*me, "--serve-slack", str(port), "--socket-url", socket_url]
            processes.append(start(argv, env, url, ready="/_local/changes"))
        processes.append(start([*me, "--serve-bare", str(bare_port)], env, bare_url))
        bare_socket_env = {**env, "SLACK_API_URL": f"{bare_slack_url}/api/"}
        processes.append(connect([*me, "--serve-bare-socket"], bare_socket_env, bares))
        print(
            f"{'deployment':<11}{'mode':<7}{'request':<22}{'senders':>8}{'app':>7}{'n':>6}"
            f"{'p50 ms':>9}{'p99 ms':>9}{'p99/bare':>10}{'drain s':>9}",
            flush=True,
        )
        mint = remote_ids(slack_url)
        bare_http = Door(SlackSender(bare_url, SECRET, mint))
        bare_socket = Door(SlackSender(bare_url, SECRET, mint), bares)
        for shared in (False, True):
            name = "shared" if shared else "embedded"
            if args.only not in (None, name):
                continue
            with deployment(folder, env, shared=shared, endpoint=bots) as (real_url, drained):
                real = SlackSender(real_url, SECRET, mint)
                doors = {"http": (bare_http, Door(real))}
                if shared:
                    doors["socket"] = (bare_socket, Door(real, bots))
                report(name, slack_url=slack_url, doors=doors, drained=drained, args=args)
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def connect(
    argv: list[str], env: dict[str, str], endpoint: SocketModeEndpoint
) -> subprocess.Popen[bytes]:
    """Start a Socket Mode app and wait until it holds a connection to ``endpoint``."""
    before = endpoint.connections
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while endpoint.connections <= before:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{argv} did not connect")
        time.sleep(0.1)
    return process


@contextmanager
def deployment(
    folder: Path, env: dict[str, str], *, shared: bool, endpoint: SocketModeEndpoint
) -> Iterator[tuple[str, Callable[[], float]]]:
    """The real bot: `serve` alone (embedded), or an HTTP front, a Socket Mode front and a
    `worker` on a PostgreSQL state; the HTTP front's URL and how to wait for the work."""
    server = start_embedded_server(ROOT / "var" / "postgres")
    drop_database(server, server.with_database("bench_slow"))
    env = {**env, "MIGRATE_BOT_CONFIG": str(bench_config(folder, shared=shared))}
    state = create_database(server, prefix="bench_state") if shared else None
    if state is not None:
        env[STATE_URL_ENV] = state.text()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    migrate_bot = str(Path(sys.executable).with_name("migrate-bot"))
    processes = [start(serve_http(port), env, url)]
    try:
        if state is None:
            yield url, lambda: drain(url)
            return
        socket_env = {**env, "SLACK_APP_TOKEN": APP_TOKEN}
        processes.append(connect([migrate_bot, "serve", "--mode", "socket"], socket_env, endpoint))
        processes.append(  # at the embedded bot's work pool's priority (nice 19)
            subprocess.Popen(
                ["nice", "-n", "19", migrate_bot, "worker", "--concurrency", "4"],
                env=env,
                cwd=ROOT,
                stderr=subprocess.DEVNULL,
            )
        )
        state_url = env[STATE_URL_ENV]
        yield url, lambda: drain_queue(state_url)
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        if state is not None:
            drop_database(server, state)


def start_slow_run(slack_url: str, real: SlackSender, real_url: str, after: int) -> int:
    """A run of ``slow`` approved and in progress (it sleeps while acks are timed)."""
    real.post(real.command_body("upgrade slow", user=USER, channel=CHANNEL))
    request_id, block, seen = wait_for_button(slack_url, ActionId.APPROVE, after)
    real.post(
        real.action_body(
            ActionId.APPROVE, request_id, user=APPROVER, channel=CHANNEL, block_id=block
        )
    )
    deadline = time.monotonic() + 180
    while request_id not in ((health(real_url) or {}).get("runs") or []):
        if time.monotonic() > deadline:
            raise SystemExit(f"the run of {request_id} did not start")
        time.sleep(0.5)
    return seen


def report(
    deployment_name: str,
    *,
    slack_url: str,
    doors: dict[str, tuple[Door, Door]],
    drained: Callable[[], float],
    args: argparse.Namespace,
) -> None:
    """With a run in progress, each case at 1 and 20 senders, through each door."""
    real = doors["http"][1].sender
    seen = start_slow_run(slack_url, real, real.bot_url, latest_change(slack_url))
    real.post(real.command_body("plan demo", user=USER, channel=CHANNEL))  # warm-up
    plan_ref, _, seen = wait_for_button(slack_url, ActionId.VIEW_SQL, seen)
    real.post(real.command_body("upgrade demo", user=USER, channel=CHANNEL))
    request_id, decide_block, seen = wait_for_button(slack_url, ActionId.APPROVE, seen)
    drained()

    def plan(sender: SlackSender) -> bytes:
        return sender.command_body("plan demo", user=USER, channel=CHANNEL)

    def status(sender: SlackSender) -> bytes:
        return sender.command_body("status demo", user=USER, channel=CHANNEL)

    def help_(sender: SlackSender) -> bytes:
        return sender.command_body("help", user=USER, channel=CHANNEL)

    def click(sender: SlackSender) -> bytes:
        return sender.action_body(ActionId.VIEW_SQL, plan_ref, user=USER, channel=CHANNEL)

    def approve(sender: SlackSender) -> bytes:
        return sender.action_body(
            ActionId.APPROVE, request_id, user=APPROVER, channel=CHANNEL, block_id=decide_block
        )

    every = {
        "plan": ("/migrate plan demo", plan),
        "status": ("/migrate status demo", status),
        "help": ("/migrate help", help_),
        "sql": ("View SQL click", click),
        "approve": ("Approve click", approve),
    }
    wanted = args.cases.split(",") if args.cases else list(every)
    cases = [every[name] for name in wanted]
    for mode, (bare, bot) in doors.items():
        for kind, build in cases:
            for senders, total in ((1, args.requests_1), (20, args.requests_20)):
                for door in (bare, bot):  # warm-up
                    run_phase(door, build, senders=senders, total=min(total, 20))
                    drained()
                bare_ms: list[float] = []
                bot_ms: list[float] = []
                waited = 0.0
                for _ in range(args.rounds):  # alternate, so both meet the same machine load
                    per_round = max(senders, total // args.rounds)
                    bare_ms += run_phase(bare, build, senders=senders, total=per_round)
                    bot_ms += run_phase(bot, build, senders=senders, total=per_round)
                    waited += drained()
                for name, times in (("bare", bare_ms), ("bot", bot_ms)):
                    ratio = percentile(times, 0.99) / percentile(bare_ms, 0.99)
                    print(
                        f"{deployment_name:<11}{mode:<7}{kind:<22}{senders:>8}{name:>7}"
                        f"{len(times):>6}{statistics.median(times):>9.1f}"
                        f"{percentile(times, 0.99):>9.1f}{ratio:>10.2f}"
                        f"{waited if name == 'bot' else 0:>9.1f}",
                        flush=True,
                    )


def latest_change(slack_url: str) -> int:
    """The local server's newest change so far (buttons before it are another bot's)."""
    with urllib.request.urlopen(f"{slack_url}/_local/changes?after=0&timeout=0") as got:
        changes = json.load(got)
    return int(changes[-1]["seq"]) if changes else 0


if __name__ == "__main__":
    main()
