"""A fleet of 200 databases under one approval, beside single-target runs of the same history.

One embedded PostgreSQL server holds every database: the fleet's members (default
200) and three single targets, all at base of one 6-revision project (a table,
columns, an index, a constraint). The bot is ``migrate-bot serve --mode http``
in a process of its own, talking to the local Slack-compatible server, and is
driven as people drive it: signed ``/migrate upgrade`` commands, Approve clicks.

It measures, in one run:

- a single-target run of the 6 revisions (pre-flight, backup, revisions, verify),
  three times (the median is the baseline);
- the fleet: the request (every member's pre-flight, the lint once), then its run
  with ``concurrency`` members at once (default 8, waves ``["1", "100%"]``): the
  total, each member's own run (median, p95) and its overhead over the single
  target's, and the fleet's time per member against a single run's;
- the bot's memory: peak resident set of the bot process (``VmHWM``), and of the
  bot with its children (Alembic, pg_dump) sampled every half second;
- the CPU each run costs, the bot's own and its children's (Alembic, pg_dump…),
  per single-target run and per fleet member (the fleet's run less what the
  same number of status asks cost while idle): figures the machine's other
  load does not move, unlike wall times;
- the Slack side meanwhile: acks of ``/migrate status`` from 20 senders while the
  bot is idle, then while the fleet runs (goal: p99 under 100 ms).

    .venv/bin/python bench/fleet.py [--members 200] [--concurrency 8] [--acks 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ack import (  # noqa: E402
    APPROVER,
    CHANNEL,
    SECRET,
    TOKEN,
    USER,
    Door,
    free_port,
    percentile,
    run_phase,
    start,
)
from bot.views.ids import ActionId  # noqa: E402
from commands.config.targets_file import parse_config  # noqa: E402
from commands.postgres.database_url import DatabaseUrl  # noqa: E402
from commands.postgres.embedded import ensure_database, start_embedded_server  # noqa: E402
from commands.requests import Request, RequestService, open_requests  # noqa: E402
from commands.state.vocabulary import RequestState  # noqa: E402
from tests.support.alembic_projects import generated_history, write_project  # noqa: E402
from tests.support.slack_requests import SlackSender, remote_ids  # noqa: E402

MEMBERS_ENV = "BENCH_TENANT_URLS"
SINGLES = ("single_a", "single_b", "single_c")
REVISIONS = 6


def write_config(folder: Path, project: Path, concurrency: int) -> Path:
    keys = f'approvers = ["{APPROVER}"]\nchecklist = []\nbackup = "file://{folder}/backups"\n'
    text = (
        textwrap.dedent(
            f"""
        [bot]
        state_path = "{(folder / "state.sqlite3").as_posix()}"

        [targets.tenants]
        members_env = "{MEMBERS_ENV}"
        script_location = "{project.as_posix()}"
        concurrency = {concurrency}
        waves = ["1", "100%"]
        max_duration = "30min"
        """
        )
        + keys
    )
    for name in SINGLES:
        text += (
            f'\n[targets.{name}]\ndatabase_url_env = "{name.upper()}_URL"\n'
            f'script_location = "{project.as_posix()}"\nmax_duration = "30min"\n{keys}'
        )
    path = folder / "bench.toml"
    path.write_text(text)
    return path


def databases(server: DatabaseUrl, members: int) -> tuple[dict[str, str], dict[str, str]]:
    """The members' variable and the single targets' variables (databases created)."""
    urls = {
        f"t{n:03d}": ensure_database(server, f"bench_fleet_t{n:03d}").text() for n in range(members)
    }
    singles = {
        f"{name.upper()}_URL": ensure_database(server, f"bench_{name}").text() for name in SINGLES
    }
    return {MEMBERS_ENV: json.dumps(urls)}, singles


@dataclass(frozen=True)
class Bot:
    """The bot process under measure and the local Slack it talks to."""

    url: str
    slack_url: str
    pid: int


class Memory:
    """Samples the bot's resident set, alone and with its children, every half second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tree_peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.tree_peak_kib = max(self.tree_peak_kib, sum(rss(p) for p in tree(self.pid)))

    def peak_kib(self) -> int:
        """``VmHWM``: the bot process's own peak resident set, as the kernel counted it."""
        return status_kib(self.pid, "VmHWM")


def status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def rss(pid: int) -> int:
    return status_kib(pid, "VmRSS")


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


class Buttons:
    """The Approve buttons the bot posts, read through the local server's long poll, each
    once (a cursor over its changes)."""

    def __init__(self, slack_url: str) -> None:
        self.slack_url = slack_url
        self.seen = 0
        self.known: set[str] = set()

    def next_approve(self, timeout: float) -> tuple[str, str]:
        """The request id and block id of the next request message with an Approve button."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            url = f"{self.slack_url}/_local/changes?after={self.seen}&timeout=5"
            with urllib.request.urlopen(url, timeout=30) as got:
                changes = json.load(got)
            for change in changes:
                self.seen = change["seq"]
                for block in change["data"].get("blocks", []):
                    for element in block.get("elements", []) if block["type"] == "actions" else []:
                        value = str(element.get("value"))
                        if element.get("action_id") == ActionId.APPROVE and value not in self.known:
                            self.known.add(value)
                            return value, str(block["block_id"])
        raise SystemExit("no new request message came back")


def ask_and_approve(sender: SlackSender, buttons: Buttons, target: str) -> tuple[str, float]:
    """``/migrate upgrade TARGET``, then Approve; the request id and the seconds until its
    message (with the Approve button) came back."""
    began = time.monotonic()
    sender.post(sender.command_body(f"upgrade {target}", user=USER, channel=CHANNEL))
    request_id, block = buttons.next_approve(timeout=3600)
    asked = time.monotonic() - began
    sender.post(
        sender.action_body(
            ActionId.APPROVE, request_id, user=APPROVER, channel=CHANNEL, block_id=block
        )
    )
    return request_id, asked


def service(config: Path) -> RequestService:
    text = config.read_text()
    return open_requests(parse_config(text, source=str(config), base=config.parent))


def finished(config: Path, request_id: str, timeout: float = 4 * 3600) -> Request:
    requests = service(config)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = requests.get(request_id)
        if request.state.is_final:
            return request
        time.sleep(1)
    raise SystemExit(f"{request_id} did not end")


def running(config: Path, request_id: str, timeout: float = 600) -> None:
    """Wait for the approved request's run to start (or end)."""
    requests = service(config)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = requests.get(request_id).state
        if state is RequestState.RUNNING or state.is_final:
            return
        time.sleep(0.2)
    raise SystemExit(f"{request_id} did not start")


def run_seconds(request: Request) -> float:
    assert request.run is not None and request.closure is not None
    return (request.closure.at - request.run.started_at).total_seconds()


def acks(sender: SlackSender, total: int) -> list[float]:
    """``/migrate status tenants`` from 20 senders: what people watching the fleet ask."""
    return run_phase(
        Door(sender),
        lambda built_by: built_by.command_body("status tenants", user=USER, channel=CHANNEL),
        senders=20,
        total=total,
    )


def cpu_seconds(pid: int) -> tuple[float, float]:
    """The bot's own CPU time, and its finished children's (Alembic, pg_dump…), so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime) / ticks, (cutime + cstime) / ticks


def settled(pid: int, timeout: float = 300) -> tuple[float, float]:
    """``cpu_seconds`` once the bot is idle again (the status answers go on after their
    acks): less than 0.05 s of CPU in a second."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = cpu_seconds(pid)
        if sum(now) - sum(last) < 0.05:
            return now
        last = now
    raise SystemExit("the bot never went idle after the status asks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--acks", type=int, default=200, help="status acks per phase (20 senders)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    project = write_project(folder / "project", generated_history(REVISIONS))
    print(f"embedded PostgreSQL and {args.members + len(SINGLES)} databases in {folder} …")
    server = start_embedded_server(folder / "pg")
    members_env, singles_env = databases(server, args.members)
    config = write_config(folder, project, args.concurrency)

    slack_port, bot_port = free_port(), free_port()
    slack_url, bot_url = f"http://127.0.0.1:{slack_port}", f"http://127.0.0.1:{bot_port}"
    env = {
        **os.environ,
        **members_env,
        **singles_env,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": f"{slack_url}/api/",
        "MIGRATE_BOT_CONFIG": str(config),
    }
    env.pop("SLACK_APP_TOKEN", None)
    ack_script = str(ROOT / "bench" / "ack.py")
    slack = start(
        [sys.executable, ack_script, "--serve-slack", str(slack_port)],
        env,
        slack_url,
        ready="/_local/changes",
    )
    migrate_bot = str(Path(sys.executable).with_name("migrate-bot"))
    serve = [migrate_bot, "serve", "--mode", "http", "--host", "127.0.0.1", "--port", str(bot_port)]
    process = start(serve, env, bot_url)
    try:
        print_figures(measure(args, config, Bot(bot_url, slack_url, process.pid)))
    finally:
        for running in (process, slack):
            running.terminate()
            running.wait(60)


@dataclass
class Figures:
    """What one run of the bench measured."""

    members: int
    concurrency: int
    single: float  # a single-target run's seconds, median of three
    single_cpu: tuple[float, float]  # the bot's and its children's CPU seconds per single run
    fleet_cpu: tuple[float, float]  # the same per member, over the fleet run less the acks
    asked: float  # from /migrate upgrade tenants to its message with Approve
    fleet: Request
    idle_acks: list[float]
    busy_acks: list[float]
    peak_kib: int
    tree_peak_kib: int
    events: int


def measure(args: argparse.Namespace, config: Path, bot: Bot) -> Figures:
    sender = SlackSender(bot.url, SECRET, remote_ids(bot.slack_url))
    buttons = Buttons(bot.slack_url)
    single_runs = []
    before = cpu_seconds(bot.pid)
    for name in SINGLES:
        request_id, _ = ask_and_approve(sender, buttons, name)
        done = finished(config, request_id)
        assert done.state is RequestState.SUCCEEDED, (name, done.state)
        single_runs.append(run_seconds(done))
    after = cpu_seconds(bot.pid)
    idle = acks(sender, args.acks)
    asks = [b - a for a, b in zip(after, settled(bot.pid), strict=True)]
    with Memory(bot.pid) as memory:
        request_id, asked = ask_and_approve(sender, buttons, "tenants")
        began = cpu_seconds(bot.pid)
        running(config, request_id)
        busy = acks(sender, args.acks)
        fleet = finished(config, request_id)
        ended = cpu_seconds(bot.pid)
        peak = memory.peak_kib()
    return Figures(
        members=args.members,
        concurrency=args.concurrency,
        single=statistics.median(single_runs),
        single_cpu=tuple((a - b) / len(SINGLES) for a, b in zip(after, before, strict=True)),
        fleet_cpu=tuple(
            (a - b - c) / args.members for a, b, c in zip(ended, began, asks, strict=True)
        ),
        asked=asked,
        fleet=fleet,
        idle_acks=idle,
        busy_acks=busy,
        peak_kib=peak,
        tree_peak_kib=memory.tree_peak_kib,
        events=len(service(config).store.events(request_id=request_id)),
    )


def row(label: str, seconds: float, note: str = "") -> str:
    return f"{label:<58}{seconds:>10.2f}{note}"


def print_figures(f: Figures) -> None:
    fleet = f.fleet
    total = run_seconds(fleet)
    durations = [
        m.duration_s(m.finished_at) or 0.0 for m in fleet.members.values() if m.finished_at
    ]
    median = statistics.median(durations)
    per_member = total / len(fleet.members)
    counts: dict[str, int] = {}
    for member in fleet.members.values():
        counts[member.state.value] = counts.get(member.state.value, 0) + 1
    overhead = f"  ({(median / f.single - 1) * 100:+.0f} %)"
    ratio = f.single / per_member
    faster = (
        f"  ({ratio:.1f}x faster than single runs one after another)"
        if ratio >= 1
        else f"  ({1 / ratio:.1f}x slower than single runs one after another)"
    )
    print(f"\n{'':<58}{'seconds':>10}")
    print(row(f"single-target run, {REVISIONS} revisions (median of 3)", f.single))
    print(row(f"fleet: its request, {f.members} members (pre-flight each, lint once)", f.asked))
    print(row(f"fleet: its run, {f.members} members, concurrency {f.concurrency}", total))
    print(row("fleet: one member's run, median", median))
    print(row("fleet: one member's run, p95", percentile(durations, 0.95)))
    print(row("per-member overhead over a single-target run (wall)", median - f.single, overhead))
    print(row("fleet run time per member (run / members)", per_member, faster))
    (bot, children), (member_bot, member_children) = f.single_cpu, f.fleet_cpu
    print(f"\n{'CPU seconds per run':<40}{'the bot':>12}{'its children':>14}")
    print(f"{'single-target run':<40}{bot:>12.2f}{children:>14.2f}")
    print(f"{'fleet member (fleet run / members)':<40}{member_bot:>12.2f}{member_children:>14.2f}")
    over_bot, over_children = member_bot - bot, member_children - children
    print(f"{'overhead per member':<40}{over_bot:>+12.2f}{over_children:>+14.2f}")
    states = ", ".join(f"{n} {state}" for state, n in counts.items())
    print(f"members: {states}; the fleet request {fleet.state.value}, {f.events} audit events")
    print(
        f"\nbot memory: peak RSS {f.peak_kib / 1024:.0f} MiB (VmHWM of the bot process);"
        f" with its children (Alembic, pg_dump…) {f.tree_peak_kib / 1024:.0f} MiB at most"
    )
    print(f"\n{'/migrate status acks, 20 senders':<40}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}")
    for label, times in (("bot idle", f.idle_acks), ("during the fleet run", f.busy_acks)):
        p50, p99 = statistics.median(times), percentile(times, 0.99)
        print(f"{label:<40}{len(times):>6}{p50:>9.1f}{p99:>9.1f}")


if __name__ == "__main__":
    main()
