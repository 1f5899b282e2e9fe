"""A soak: many requests through one embedded bot, then through a shared deployment,
watching what the processes hold. Nothing should grow once warmed up.

Each request is asked with `/migrate`, signed as Slack signs it, through the real
bot processes (`migrate-bot serve --mode http`; for the shared deployment a front
and a `migrate-bot worker` on a PostgreSQL state) and the local Slack-compatible
server, one after the other:

- 7 in 10: a run on `quick`, a one-revision history: ticked, approved, run
  (pre-flight, backup, the revision, verification), alternately up and down;
- 1 in 10: a run on `failing`, whose revision fails: approved, run, failed;
- 2 in 10: asked and cancelled by the requester.

Every `--sample-every` requests each bot process's RSS and open file descriptors
are read (psutil), `/metrics` is scraped three times and the App Home drawn three
times (an `app_home_opened` event until the local Slack holds the new tab), the
median kept. The first sample after the warm-up (`--warm-up`, a tenth of the
requests by default) is the baseline; the last is compared with it. Goal: nothing
grows more than 10 %.

    .venv/bin/python bench/soak.py [--requests 1000] [--only embedded|shared]
        [--sample-every 50] [--warm-up N]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.local_slack.server import LocalSlackServer  # noqa: E402
from bot.local_slack.workspace import Message  # noqa: E402
from bot.views.ids import ActionId  # noqa: E402
from commands.config.targets_file import parse_config  # noqa: E402
from commands.postgres.database_url import DatabaseUrl  # noqa: E402
from commands.postgres.embedded import start_embedded_server  # noqa: E402
from commands.requests import RequestService  # noqa: E402
from commands.state.audit_log import open_audit_log  # noqa: E402
from commands.state.shared import close_shared_states  # noqa: E402
from commands.state.vocabulary import ChecklistItem, RequestState  # noqa: E402
from tests.support.alembic_projects import Rev, write_project  # noqa: E402
from tests.support.databases import create_database, stop_embedded_server  # noqa: E402
from tests.support.polling import wait_for  # noqa: E402
from tests.support.reliability.bot_process import BotProcess, free_port  # noqa: E402
from tests.support.reliability.world import header  # noqa: E402
from tests.support.shared_deployment import ALICE, BOB, DEV, OPS, Deployment  # noqa: E402
from tests.support.shared_state import STATE_URL_ENV  # noqa: E402
from tests.support.slack_requests import SlackSender  # noqa: E402

GOAL = 0.10
TIMEOUT = 300
REVISIONS = {
    "quick": [Rev("q1", (), ("CREATE TABLE soak (id bigint)",), ("DROP TABLE soak",), "one")],
    "failing": [Rev("f1", (), ("SELECT 1/0",), ("SELECT 1",), "fails")],
}


@dataclass
class Bot:
    """What the soak needs of a deployment, whichever it is."""

    name: str
    sender: SlackSender
    slack: LocalSlackServer
    requests: Callable[[], RequestService]
    pids: Callable[[], dict[str, int]]
    metrics_url: str
    click: Callable[..., int]  # (message, action_id, *, user, **element) -> HTTP status


@dataclass(frozen=True)
class Sample:
    after: int  # requests done
    rss_mb: dict[str, float]
    fds: dict[str, int]
    scrape_ms: float
    home_ms: float


def targets_toml(projects: dict[str, Path]) -> str:
    return "".join(
        textwrap.dedent(
            f"""
            [targets.{name}]
            database_url_env = "{name.upper()}_DATABASE_URL"
            script_location = "{project.as_posix()}"
            approvers = ["{BOB}"]
            checklist = ["code_reviewed"]
            backup = "file://backups/{name}"
            backup_compression = "none"
            backup_keep = 3
            """
        )
        for name, project in projects.items()
    )


# --- the two deployments -----------------------------------------------------------------


@contextmanager
def embedded_bot(root: Path, toml: str, environ: dict[str, str]) -> Iterator[Bot]:
    text = f'[bot]\nops_channel = "{OPS}"\nstate_path = "state.sqlite3"\n{toml}'
    config_path = root / "migrate-bot.toml"
    config_path.write_text(text)
    config = parse_config(text, source=str(config_path), base=root)
    users, channels = {ALICE: "alice", BOB: "bob"}, {DEV: "dev", OPS: "ops"}
    bot = BotProcess(config_path, workdir=root, users=users, channels=channels, environ=environ)
    with bot:
        assert bot.process is not None
        pid = bot.process.pid
        yield Bot(
            "embedded",
            bot.sender,
            bot.slack,
            lambda: RequestService(open_audit_log(config.bot.state), config),
            lambda: {"bot": pid},
            f"{bot.url}/metrics",
            bot.click,
        )


@contextmanager
def shared_bot(root: Path, toml: str, environ: dict[str, str], state_url: str) -> Iterator[Bot]:
    deployment = Deployment(root, state_url, toml, environ=environ)
    try:
        front = deployment.start_front()
        port = free_port()
        worker = deployment.start_worker(metrics_port=port)
        yield Bot(
            "shared",
            deployment.sender(front),
            deployment.slack,
            deployment.requests,
            lambda: {"front": front.pid, "worker": worker.pid},
            f"http://127.0.0.1:{port}/metrics",
            lambda message, action_id, **kw: deployment.sender(front).post(
                deployment.click_body(front, message, action_id, **kw)
            )[0],
        )
    finally:
        deployment.close()
        close_shared_states()


# --- one request -------------------------------------------------------------------------


def ask(bot: Bot, text: str) -> tuple[Message, str]:
    workspace = bot.slack.workspace
    before = set(workspace.messages.get(DEV, {}))
    assert bot.sender.post(bot.sender.command_body(text, user=ALICE, channel=DEV))[0] == 200

    def posted() -> Message | None:
        for ts, message in list(workspace.messages.get(DEV, {}).items()):
            if ts not in before and message.thread_ts in (None, ts):  # one request at a time
                return message if "Approve" in str(message.blocks) else None
        return None

    message = wait_for(posted, TIMEOUT, f"the request message of {text}")
    return message, header(message).split(" ")[0]


def ended(bot: Bot, rid: str) -> RequestState:
    service = bot.requests()
    return wait_for(
        lambda: (r := service.get(rid)).state.is_final and r, TIMEOUT, f"{rid}'s end"
    ).state


def one_request(bot: Bot, n: int, quick_at_head: bool) -> tuple[str, RequestState]:
    """The ``n``-th request of the mix; what it was and how it ended."""
    kind = "cancelled" if n % 10 in (1, 6) else "failing" if n % 10 == 3 else "run"
    if kind == "failing":
        text = "upgrade failing"
    else:
        text = "downgrade quick base" if quick_at_head else "upgrade quick"
    message, rid = ask(bot, text)
    if kind == "cancelled":
        assert bot.click(message, ActionId.CANCEL, user=ALICE) == 200
    else:
        ticks = {"type": "checkboxes", "selected_options": [{"value": "code_reviewed"}]}
        assert bot.click(message, ActionId.CHECKLIST, user=ALICE, **ticks) == 200
        service = bot.requests()
        wait_for(lambda: service.get(rid).tick_of(ChecklistItem.CODE_REVIEWED), 60, "the tick")
        assert bot.click(message, ActionId.APPROVE, user=BOB) == 200
    return text, ended(bot, rid)


# --- what the processes hold -------------------------------------------------------------


def scrape_ms(url: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
    return (time.perf_counter() - began) * 1000


def home_ms(bot: Bot) -> float:
    workspace = bot.slack.workspace
    before = (workspace.home(BOB) or {}).get("hash")
    began = time.perf_counter()
    event = {"type": "app_home_opened", "user": BOB, "channel": "D0BOB", "tab": "home"}
    assert bot.sender.post(bot.sender.event_body(event))[0] == 200
    wait_for(lambda: (workspace.home(BOB) or {}).get("hash") != before, 60, "the home tab")
    return (time.perf_counter() - began) * 1000


def sample(bot: Bot, after: int) -> Sample:
    processes = {name: psutil.Process(pid) for name, pid in bot.pids().items()}
    return Sample(
        after=after,
        rss_mb={name: p.memory_info().rss / 2**20 for name, p in processes.items()},
        fds={name: p.num_fds() for name, p in processes.items()},
        scrape_ms=statistics.median(scrape_ms(bot.metrics_url) for _ in range(3)),
        home_ms=statistics.median(home_ms(bot) for _ in range(3)),
    )


def soak(bot: Bot, requests: int, every: int) -> list[Sample]:
    samples = [sample(bot, 0)]
    quick_at_head = False
    outcomes: dict[tuple[str, str], int] = {}
    began = time.monotonic()
    for n in range(1, requests + 1):
        text, state = one_request(bot, n, quick_at_head)
        if text.endswith("quick") or text.endswith("base"):
            quick_at_head ^= state is RequestState.SUCCEEDED
        key = (text.split(" ")[0] + " " + text.split(" ")[1], state.value)
        outcomes[key] = outcomes.get(key, 0) + 1
        if n % every == 0 or n == requests:
            samples.append(sample(bot, n))
            print(f"  {bot.name}: {n} requests in {time.monotonic() - began:.0f} s", flush=True)
    print(
        f"  {bot.name} outcomes: "
        + ", ".join(f"{k[0]} {k[1]}: {v}" for k, v in sorted(outcomes.items()))
    )
    return samples


# --- the report -------------------------------------------------------------------------


def growth(first: float, last: float) -> float:
    return (last - first) / first if first else 0.0


def report(name: str, samples: list[Sample], warm_up: int) -> bool:
    base = next(s for s in samples if s.after >= warm_up)
    last = samples[-1]
    rows: list[tuple[str, float, float]] = []
    for process in base.rss_mb:
        rows.append((f"{process} RSS MB", base.rss_mb[process], last.rss_mb[process]))
        rows.append((f"{process} open fds", base.fds[process], last.fds[process]))
    rows.append(("/metrics scrape ms", base.scrape_ms, last.scrape_ms))
    rows.append(("App Home draw ms", base.home_ms, last.home_ms))
    print(
        f"\n{name}: baseline after {base.after} requests (warm-up {warm_up}),"
        f" end after {last.after}"
    )
    print(f"| {'figure':<22} | {'baseline':>9} | {'end':>9} | {'growth':>7} | goal ≤ 10 % |")
    print(f"|{'-' * 24}|{'-' * 11}|{'-' * 11}|{'-' * 9}|{'-' * 13}|")
    ok = True
    for label, first, end in rows:
        change = growth(first, end)
        met = change <= GOAL
        ok &= met
        print(
            f"| {label:<22} | {first:>9.1f} | {end:>9.1f} | {change:>+6.1%}"
            f" | {'met' if met else 'NOT met':<11} |"
        )
    print("every sample (requests: RSS MB / fds per process; scrape ms; home ms):")
    for s in samples:
        held = ", ".join(f"{p} {s.rss_mb[p]:.0f}/{s.fds[p]}" for p in s.rss_mb)
        print(f"  {s.after:>5}: {held}; {s.scrape_ms:.0f}; {s.home_ms:.0f}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--sample-every", type=int, default=50)
    parser.add_argument("--warm-up", type=int, default=None, help="default: a tenth of --requests")
    parser.add_argument("--only", choices=("embedded", "shared"))
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the processes' logs and state here (default: a"
        " temporary folder, removed at the end)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the bots and the server too
    warm_up = args.warm_up if args.warm_up is not None else args.requests // 10
    with tempfile.TemporaryDirectory(prefix="migrate-bot-soak-") as scratch:
        root = args.workdir or Path(scratch)
        data_dir = root / "pg" / "data"
        server = start_embedded_server(data_dir, keep_running=True, preload=())
        try:
            ok = run_both(root, server, args, warm_up)
        finally:
            stop_embedded_server(data_dir)
    print("\ngoal (nothing grows more than 10 % after warm-up):", "met" if ok else "NOT met")


def run_both(root: Path, server: DatabaseUrl, args: argparse.Namespace, warm_up: int) -> bool:
    requests, every, only = args.requests, args.sample_every, args.only
    ok = True
    for name in ("embedded", "shared"):
        if only not in (None, name):
            continue
        folder = root / name
        projects = {t: write_project(folder / t, revs) for t, revs in REVISIONS.items()}
        environ = {
            f"{t.upper()}_DATABASE_URL": create_database(server, prefix=f"soak_{t}").text()
            for t in REVISIONS
        }
        toml = targets_toml(projects)
        print(f"{name}: {requests} requests", flush=True)
        if name == "embedded":
            with embedded_bot(folder, toml, environ) as bot:
                samples = soak(bot, requests, every)
        else:
            state = create_database(server, prefix="soak_state")
            url = state.text()
            os.environ[STATE_URL_ENV] = url  # the soak reads the shared log as an auditor
            with shared_bot(folder, toml, {**environ, STATE_URL_ENV: url}, url) as bot:
                samples = soak(bot, requests, every)
        ok &= report(name, samples, warm_up)
    return ok


if __name__ == "__main__":
    main()
