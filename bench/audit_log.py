"""Benchmark: what the audit log's history costs, at 100, 10,000 and 100,000 requests, side
by side in one run (issue 28's goals).

For each history size a SQLite log is written quickly (``bench/history.py``:
one request's real life, 15 events (a tenth rejected: 3), copied with its own ids and hash
chain) and its projections are folded once (what the first start after an
upgrade does; a bot that keeps them as it goes never pays it again). Then,
in rounds that visit every size in turn so each meets the same load:

- transitions: whole request lives through ``RequestService`` (create,
  pre-flight, the checklist, approve, start, a backup, three revisions,
  finish), per event appended;
- start-up: ``migrate-bot serve --mode http`` on the log, from its start to
  ``GET /health`` answering (two targets on the embedded PostgreSQL, the
  local Slack-compatible server as Slack);
- ``GET /metrics``: its first scrape after the start, and the next;
- App Home: an ``app_home_opened`` event for the approver, from the request
  to ``views.publish`` at the local Slack (first draw, which reads each
  target's revision with Alembic, and the next, within the status TTL);
  and its read of the newest 100 requests in this process, from one read of
  their events beside a read per request (the way before; on PostgreSQL too
  with ``--postgres``);
- verify: the whole chain, then only the events a few lives appended since
  (``--new``), in this process, and ``migrate-bot audit verify --new`` end to
  end in a new process (its start-up included);
- with ``--postgres``, the same history in a shared state (a database of its
  own on the embedded PostgreSQL, written by ``COPY``), and transitions through
  ``RequestService`` on it.

    .venv/bin/python bench/audit_log.py [--history 100,10000,100000] [--lives 10]
                                        [--rounds 3] [--postgres]

Run from the repository root. Nothing here is a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audit.postgres_store import PostgresEventStore  # noqa: E402
from audit.sqlite_store import SqliteEventStore  # noqa: E402
from audit.store import EventStore  # noqa: E402
from bench.ack import SECRET, TOKEN, free_port, serve_http, slack_env, start  # noqa: E402
from bench.history import (  # noqa: E402
    bench_config,
    live_once,
    write_history,
    write_history_postgres,
)
from bot.local_slack.server import LocalSlackServer  # noqa: E402
from bot.local_slack.workspace import Workspace  # noqa: E402
from bot.metrics.metric_totals import METRIC_TOTALS  # noqa: E402
from commands.backup.backup_index import BACKUP_INDEX  # noqa: E402
from commands.postgres.database_url import DatabaseUrl  # noqa: E402
from commands.postgres.embedded import ensure_database, start_embedded_server  # noqa: E402
from commands.requests import RequestService  # noqa: E402
from commands.requests.folds import load, load_many  # noqa: E402
from commands.requests.index import REQUEST_INDEX, newest_ids  # noqa: E402
from commands.state.shared import SharedState  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.slack_requests import SlackSender, remote_ids  # noqa: E402

TARGETS = ("app", "web")
APPROVER = "U0BOB"
GOALS = {  # figure -> (goal, how it is judged)
    "transition ms": (1.2, "x the first size"),
    "transition ms, PostgreSQL": (1.2, "x the first size"),
    "start-up s": (3.0, "s"),
    "metrics later ms": (50.0, "ms"),
    "home later ms": (200.0, "ms"),
}


@dataclass
class Size:
    """One history size: its log and what was measured on it."""

    requests: int
    path: Path
    shared: SharedState | None = None  # the same history in PostgreSQL (--postgres)
    events: int = 0
    written_s: float = 0.0
    folded_s: float = 0.0
    seen: dict[str, list[float]] = field(default_factory=dict)

    def add(self, figure: str, value: float) -> None:
        self.seen.setdefault(figure, []).append(value)

    def median(self, figure: str) -> float:
        return statistics.median(self.seen[figure])


def prepare(size: Size) -> None:
    """The log, written in bulk, and its projections folded once."""
    started = time.perf_counter()
    store = write_history(size.path, requests=size.requests, targets=TARGETS)
    size.written_s = time.perf_counter() - started
    head = store.head()
    size.events = head.seq if head else 0
    started = time.perf_counter()
    store.keep(REQUEST_INDEX, BACKUP_INDEX, METRIC_TOTALS)
    size.folded_s = time.perf_counter() - started
    store.verify()  # the verified head the later incremental walk starts from
    store.close()
    print(
        f"  {size.requests:,} requests: {size.events:,} events written in"
        f" {size.written_s:.1f} s, projections folded in {size.folded_s:.1f} s",
        file=sys.stderr,
    )


def prepare_postgres(size: Size, server: DatabaseUrl) -> None:
    """The history in a shared state of its own, its projections folded once."""
    drop_database(server, server.with_database(f"bench_history_{size.requests}"))
    size.shared = SharedState(ensure_database(server, f"bench_history_{size.requests}"))
    started = time.perf_counter()
    store = write_history_postgres(size.shared, requests=size.requests, targets=TARGETS)
    store.keep(REQUEST_INDEX, BACKUP_INDEX, METRIC_TOTALS)
    print(
        f"  {size.requests:,} requests in PostgreSQL: written and folded in"
        f" {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )


def opened(size: Size, *, postgres: bool) -> EventStore:
    if postgres:
        assert size.shared is not None
        return PostgresEventStore(size.shared.pool, schema=size.shared.schema)
    return SqliteEventStore(size.path)


def newest_hundred(size: Size, *, postgres: bool = False, times: int = 5) -> None:
    """App Home's read of the newest 100 requests, the bot's folds kept and its statements
    prepared (as in a serving bot): from one read of their events (``load_many``),
    beside a read per request (before it); the median of ``times``."""
    store = opened(size, postgres=postgres)
    store.keep(REQUEST_INDEX, BACKUP_INDEX, METRIC_TOTALS)
    ids = list(islice(newest_ids(store, target=None, states=None), 100))
    ways: dict[str, Callable[[], object]] = {
        "one read": lambda: load_many(store, ids),
        "a read each": lambda: [load(store, request_id) for request_id in ids],
    }
    where = ", PostgreSQL" if postgres else ""
    for way, read in ways.items():
        read(), read()  # the folds kept, then the statement of a kept fold's read
        took = []
        for _ in range(times):
            started = time.perf_counter()
            read()
            took.append((time.perf_counter() - started) * 1000)
        size.add(f"newest 100, {way} ms{where}", statistics.median(took))
    if not postgres:
        store.close()


def transitions(size: Size, lives: int, *, postgres: bool = False) -> float:
    """Milliseconds per event appended through ``RequestService``, over ``lives`` lives."""
    store = opened(size, postgres=postgres)
    service = RequestService(store, bench_config(size.path.parent, TARGETS, size.path.name))
    store.keep(REQUEST_INDEX, BACKUP_INDEX, METRIC_TOTALS)  # as the bot keeps them
    before = store.head()
    started = time.perf_counter()
    for index in range(lives):
        live_once(service, TARGETS[index % len(TARGETS)])
    took = time.perf_counter() - started
    after = store.head()
    appended = after.seq - (before.seq if before else 0) if after else 0
    if not postgres:
        store.close()  # (the pool is the shared state's)
    return took / appended * 1000


def serve_config(folder: Path, state: Path, database: str) -> Path:
    path = folder / f"serve-{state.stem}.toml"
    targets = "".join(
        f"""
        [targets.{name}]
        embedded_postgres = "{(ROOT / "var" / "postgres").as_posix()}"
        embedded_database = "{database}"
        script_location = "{(ROOT / "migrations").as_posix()}"
        approvers = ["{APPROVER}"]
        backup = "file://{(folder / "backups").as_posix()}"
        """
        for name in TARGETS
    )
    path.write_text(f'[bot]\nstate_path = "{state.as_posix()}"\n' + textwrap.dedent(targets))
    return path


def timed_get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as answer:
        answer.read()
    return (time.perf_counter() - started) * 1000


def latest_change(slack_url: str) -> int:
    with urllib.request.urlopen(f"{slack_url}/_local/changes?after=0&timeout=0") as got:
        changes = json.load(got)
    return int(changes[-1]["seq"]) if changes else 0


def home_drawn(sender: SlackSender, slack_url: str) -> float:
    """Milliseconds from the ``app_home_opened`` event to the home view published."""
    seen = latest_change(slack_url)
    body = sender.event_body({"type": "app_home_opened", "user": APPROVER, "tab": "home"})
    started = time.perf_counter()
    status, _ = sender.post(body)
    assert status == 200, status
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with urllib.request.urlopen(
            f"{slack_url}/_local/changes?after={seen}&timeout=5", timeout=30
        ) as got:
            for change in json.load(got):
                seen = change["seq"]
                if change["kind"] == "home_published":
                    return (time.perf_counter() - started) * 1000
    raise SystemExit("the home tab was never published")


def serve_round(size: Size, env: dict[str, str], slack_url: str) -> None:
    """One start of ``migrate-bot serve`` on the log: start-up, scrapes, home draws."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = start(serve_http(port), env, url)
    size.add("start-up s", time.perf_counter() - started)
    try:
        size.add("metrics first ms", timed_get(f"{url}/metrics"))
        size.add("metrics later ms", timed_get(f"{url}/metrics"))
        sender = SlackSender(url, SECRET, remote_ids(slack_url))
        size.add("home first ms", home_drawn(sender, slack_url))
        size.add("home later ms", home_drawn(sender, slack_url))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def verify_round(size: Size, lives: int) -> None:
    """``audit verify`` of the whole chain, then of the events a few lives appended: in
    this process (the walk alone), and ``migrate-bot audit verify --new`` end to end."""
    store = SqliteEventStore(size.path)
    started = time.perf_counter()
    assert store.verify().ok
    size.add("verify full s", time.perf_counter() - started)
    transitions(size, lives)
    started = time.perf_counter()
    report = store.verify(incremental=True)
    size.add("verify new ms", (time.perf_counter() - started) * 1000)
    size.add("new events", report.events)
    assert report.ok and report.since is not None, report
    transitions(size, lives)
    cli = [str(Path(sys.executable).with_name("migrate-bot")), "audit", "verify", "--new"]
    started = time.perf_counter()
    subprocess.run([*cli, "--file", str(size.path)], check=True, capture_output=True)
    size.add("verify new, CLI s", time.perf_counter() - started)
    store.close()


def report(sizes: list[Size], args: argparse.Namespace, load: list[float]) -> list[str]:
    first = sizes[0]
    header = f"{'figure':<34}" + "".join(f"{f'{s.requests:,} req':>14}" for s in sizes)
    lines = [
        f"audit log history, {os.cpu_count()} cores, medians of {args.rounds} rounds; load"
        f" average (1 min) {load[0]:.2f} before, {load[-1]:.2f} after",
        header + f"{'last / first':>14}  goal",
    ]
    rows: list[tuple[str, Callable[[Size], float], str]] = [
        ("events in the log", lambda s: s.events, "{:,.0f}"),
        ("written in bulk (s)", lambda s: s.written_s, "{:.1f}"),
        ("projections folded once (s)", lambda s: s.folded_s, "{:.1f}"),
        ("transition ms", lambda s: s.median("transition ms"), "{:.2f}"),
        *(
            [("transition ms, PostgreSQL", lambda s: s.median("pg transition ms"), "{:.2f}")]
            if args.postgres
            else []
        ),
        ("start-up s", lambda s: s.median("start-up s"), "{:.2f}"),
        ("metrics first ms", lambda s: s.median("metrics first ms"), "{:.0f}"),
        ("metrics later ms", lambda s: s.median("metrics later ms"), "{:.0f}"),
        ("home first ms", lambda s: s.median("home first ms"), "{:.0f}"),
        ("home later ms", lambda s: s.median("home later ms"), "{:.0f}"),
        *(
            (name, lambda s, name=name: s.median(name), "{:.1f}")
            for name in (
                "newest 100, one read ms",
                "newest 100, a read each ms",
                *(
                    [
                        "newest 100, one read ms, PostgreSQL",
                        "newest 100, a read each ms, PostgreSQL",
                    ]
                    if args.postgres
                    else []
                ),
            )
        ),
        ("verify full s", lambda s: s.median("verify full s"), "{:.2f}"),
        ("new events", lambda s: s.median("new events"), "{:,.0f}"),
        ("verify new ms", lambda s: s.median("verify new ms"), "{:.1f}"),
        ("verify new, CLI s", lambda s: s.median("verify new, CLI s"), "{:.2f}"),
    ]
    for name, value, spelled in rows:
        cells = "".join(f"{spelled.format(value(s)):>14}" for s in sizes)
        ratio = value(sizes[-1]) / value(first) if value(first) else float("nan")
        lines.append(f"{name:<34}{cells}{ratio:>14.2f}  {_goal(name, sizes, first, value)}")
    return lines


def _goal(name: str, sizes: list[Size], first: Size, value: Callable[[Size], float]) -> str:
    if name not in GOALS:
        return ""
    goal, unit = GOALS[name]
    last = value(sizes[-1])
    measured = last / value(first) if unit.startswith("x") else last
    return f"<= {goal:g} {unit}: {'met' if measured <= goal else 'MISSED'}"


def serve_slack(port: int) -> None:
    """The local Slack server in a process of its own (the bench's timings stay clean)."""
    users = {"U0ALICE": "alice", APPROVER: "bob"}
    with LocalSlackServer(Workspace(users=users), bot_token=TOKEN, port=port):
        signal.sigwait([signal.SIGTERM, signal.SIGINT])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="100,10000,100000", help="requests in each log")
    parser.add_argument("--lives", type=int, default=10, help="request lives per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every size")
    parser.add_argument("--postgres", action="store_true", help="transitions on a shared state too")
    parser.add_argument("--serve-slack", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_slack:
        serve_slack(args.serve_slack)
        return
    load = [os.getloadavg()[0]]
    folder = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    sizes = [Size(int(n), folder / f"audit-{n}.sqlite3") for n in args.history.split(",")]
    server = start_embedded_server(ROOT / "var" / "postgres")
    ensure_database(server, "bench_history")
    for size in sizes:
        prepare(size)
        if args.postgres:
            prepare_postgres(size, server)
    slack_port = free_port()
    slack_url = f"http://127.0.0.1:{slack_port}"
    env = slack_env(slack_url)
    slack = start(
        [sys.executable, __file__, "--serve-slack", str(slack_port)],
        env,
        slack_url,
        ready="/_local/changes",
    )
    try:
        for round_number in range(args.rounds):
            for size in sizes:
                size.add("transition ms", transitions(size, args.lives))
                if args.postgres:
                    size.add("pg transition ms", transitions(size, args.lives, postgres=True))
                    newest_hundred(size, postgres=True)
                newest_hundred(size)
                config = serve_config(folder, size.path, "bench_history")
                serve_round(size, {**env, "MIGRATE_BOT_CONFIG": str(config)}, slack_url)
                verify_round(size, args.lives)
                print(
                    f"  round {round_number + 1}, {size.requests:,} requests:"
                    f" {size.seen['transition ms'][-1]:.2f} ms per transition, start-up"
                    f" {size.seen['start-up s'][-1]:.2f} s",
                    file=sys.stderr,
                )
            load.append(os.getloadavg()[0])
    finally:
        slack.send_signal(signal.SIGTERM)
        slack.wait(30)
        for size in sizes:
            if size.shared is not None:
                size.shared.close()
                drop_database(server, server.with_database(f"bench_history_{size.requests}"))
    print("\n".join(report(sizes, args, load)))


if __name__ == "__main__":
    main()
