"""Benchmark: a long history, plain ``alembic upgrade head`` beside ``migrate-bot upgrade``.

Both run as a user runs them, as processes, on fresh databases of the same
server: plain Alembic (``python -m alembic -c alembic.ini upgrade head``) and
the bot's break-glass upgrade (``migrate-bot upgrade TARGET --yes``: plan,
request, run lock, pre-flight with lint, backup, every revision stepped and
recorded, verification). The bot's phases are read from its audit log.

Goals: the bot's revision phase ≤ 1.3 x plain Alembic's whole upgrade (issue
15); the bot's whole upgrade ≤ 1.3 x plain Alembic + 1.5 s on a small database;
``migrate-bot --version`` and ``--help`` ≤ 0.15 s, ``targets`` ≤ 0.3 s and
``status`` ≤ plain ``alembic current`` + 0.3 s (issue 24). Prints each beside
its goal, measured side by side in one run; asserts nothing.

A database in use is never at base: both databases are first brought to
``--start`` (default the first revision, untimed, with plain Alembic), as a
team's database stands when the rest of a history is pending; ``--start base``
times the whole history from an empty database.

    .venv/bin/python bench/long_history.py [--revisions 120] [--runs 3]
    .venv/bin/python bench/long_history.py --config PATH/alembic.ini \\
        [--python PATH/bin/python] [--env NAME={url}] [--env NAME=value] [--section S]
        [--url-driver asyncpg] [--no-sqlalchemy-url]

With ``--config``, a real project is measured instead: ``{url}`` in an
``--env`` value is replaced by each fresh database's URL (those names become
the target's ``url_env_names``; the others its ``child_env``), written for
``--url-driver`` when given (as an async project's users write it);
``--no-sqlalchemy-url`` is the target's ``url_ini_options = []``. Uses
$MIGRATE_BOT_TEST_DATABASE_URL's server when set, else an embedded
PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compat import plain_alembic
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server
from commands.state.audit_log import open_audit_log
from commands.state.location import StateLocation
from commands.state.vocabulary import EventKind
from tests.support.generated_project import generated_project

BOT = Path(sys.executable).with_name("migrate-bot")
PHASES = ("preflight", "backup", "apply", "verify")
REVISION_GOAL = 1.3
WHOLE_GOAL_RATIO, WHOLE_GOAL_S = 1.3, 1.5
VERSION_GOAL_S, TARGETS_GOAL_S, STATUS_GOAL_S = 0.15, 0.3, 0.3
CLI_RUNS = 7


@dataclass(frozen=True)
class Project:
    """What both sides run: an alembic.ini, its Python, and the environment it reads."""

    config: Path
    python: str
    section: str
    env: dict[str, str]  # values may hold {url}
    url_ini_options: tuple[str, ...] = ("sqlalchemy.url",)

    def environ(self, url: str) -> dict[str, str]:
        return {name: value.replace("{url}", url) for name, value in self.env.items()}


@dataclass(frozen=True)
class BotRun:
    total_s: float
    phases: dict[str, float]
    before_run_s: float
    applied: int
    state: str


def run_plain(project: Project, url: str, goal: str = "head") -> float:
    env = {**os.environ, "DATABASE_URL": url, **project.environ(url)}
    command = [*plain_alembic(project.python), "-c", str(project.config)]
    command += ["--name", project.section, "upgrade", goal]
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, cwd=project.config.parent
    )
    took = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"plain alembic failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return took


def targets_file(root: Path, project: Project) -> Path:
    url_names = [name for name, value in project.env.items() if "{url}" in value]
    others = [f"{name}={value}" for name, value in project.env.items() if "{url}" not in value]
    path = root / "bench-targets.toml"
    path.write_text(
        f'[bot]\nstate_path = "{(root / "state.sqlite3").as_posix()}"\n\n'
        "[targets.bench]\n"
        'database_url_env = "BENCH_DATABASE_URL"\n'
        f'alembic_config = "{project.config.as_posix()}"\n'
        f'alembic_section = "{project.section}"\n'
        f'python = "{project.python}"\n'
        f"url_env_names = {json.dumps(url_names)}\n"
        f"child_env = {json.dumps(others)}\n"
        f"url_ini_options = {json.dumps(list(project.url_ini_options))}\n"
        'approvers = ["U0BOB"]\n'
        f'backup = "file://{(root / "backups").as_posix()}"\n'
    )
    return path


def run_bot(root: Path, project: Project, url: str) -> BotRun:
    config = targets_file(root, project)
    state = root / "state.sqlite3"
    for leftover in root.glob("state.sqlite3*"):  # each run a first one: no replay cached
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    env = {**os.environ, "MIGRATE_BOT_CONFIG": str(config), "BENCH_DATABASE_URL": url}
    started = time.perf_counter()
    done = subprocess.run(
        [str(BOT), "upgrade", "bench", "--yes", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    total = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"migrate-bot upgrade failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    outcome = json.loads(done.stdout)
    phases, before = phase_times(state)
    return BotRun(total, phases, before, len(outcome["steps"]), outcome["state"])


def phase_times(state: Path) -> tuple[dict[str, float], float]:
    """Each step's seconds from its start to its end, and from request to run start."""
    events = open_audit_log(StateLocation(state)).events()
    created = next(e for e in events if e.kind == EventKind.REQUEST_CREATED)
    run_started = next(e for e in events if e.kind == EventKind.RUN_STARTED)
    begun: dict[str, datetime] = {}
    phases: dict[str, float] = {}
    for event in events:
        if event.kind != EventKind.RUN_STEP or event.data.get("revision"):
            continue
        step, status = event.data["step"], event.data["status"]
        at = datetime.fromisoformat(event.ts)
        if status == "started":
            begun[step] = at
        elif step in begun:
            phases[step] = (at - begun[step]).total_seconds()
    before = datetime.fromisoformat(run_started.ts) - datetime.fromisoformat(created.ts)
    return phases, before.total_seconds()


def fresh(server: DatabaseUrl, label: str, driver: str | None = None) -> str:
    database = ensure_database(server, f"bench_{label}_{secrets.token_hex(3)}")
    return database.for_driver(driver).text()


def started_at(
    project: Project, server: DatabaseUrl, label: str, start: str, driver: str | None
) -> str:
    """A fresh database, brought to ``start`` with plain Alembic (not timed)."""
    url = fresh(server, label, driver)
    if start != "base":
        run_plain(project, url, start)
    return url


def parse_env(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--env wants NAME=VALUE, not {pair!r}")
        found[name] = value
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=120)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--config", type=Path, help="a real project's alembic.ini")
    parser.add_argument("--python", default=sys.executable, help="the project's interpreter")
    parser.add_argument("--section", default="alembic")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--start", default=None, help="revision both start at (default: first)")
    parser.add_argument("--url-driver", help="the URL both get names this driver (asyncpg…)")
    parser.add_argument("--no-sqlalchemy-url", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="migrate-bot-long-") as scratch:
        root = Path(scratch)
        configured = os.environ.get("MIGRATE_BOT_TEST_DATABASE_URL")
        server = DatabaseUrl.parse(configured) if configured else start_embedded_server(root / "pg")
        if args.config is None:
            generated_project(root / "generated", args.revisions)
            config, what = (
                root / "generated" / "alembic.ini",
                f"{args.revisions} generated revisions",
            )
        else:
            config, what = args.config.resolve(), str(args.config)
        options = () if args.no_sqlalchemy_url else ("sqlalchemy.url",)
        project = Project(config, args.python, args.section, parse_env(args.env), options)
        start = args.start or ("r0000" if args.config is None else "base")
        plain, bots = [], []
        for _ in range(args.runs):
            url = started_at(project, server, "plain", start, args.url_driver)
            plain.append(run_plain(project, url))
            url = started_at(project, server, "bot", start, args.url_driver)
            bots.append(run_bot(root, project, url))
        report(f"{what} (from {start})", plain, bots)
        report_cli(root, project, url)
    return 0


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """The median wall time of ``command`` over ``CLI_RUNS`` runs (it must succeed)."""
    times = []
    for _ in range(CLI_RUNS):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode()[-2000:]}")
    return statistics.median(times)


def report_cli(root: Path, project: Project, url: str) -> None:
    """The terminal's answers beside their goals, on the bench's target at head."""
    config = targets_file(root, project)
    env = {**os.environ, "MIGRATE_BOT_CONFIG": str(config), "BENCH_DATABASE_URL": url}
    plain_env = {**os.environ, "DATABASE_URL": url, **project.environ(url)}
    alembic = [*plain_alembic(project.python), "-c", str(project.config)]
    alembic += ["--name", project.section]
    cwd = project.config.parent
    version = timed([str(BOT), "--version"], env, root)
    help_s = timed([str(BOT), "--help"], env, root)
    targets = timed([str(BOT), "targets"], env, root)
    status = timed([str(BOT), "status", "bench"], env, root)
    current = timed([*alembic, "current"], plain_env, cwd)
    plain_version = timed([*plain_alembic(project.python), "--version"], plain_env, cwd)
    print(f"the terminal, {CLI_RUNS} runs each, medians")
    print(
        f"  migrate-bot --version   {version:6.2f} s  (goal <= {VERSION_GOAL_S} s;"
        f" alembic --version {plain_version:.2f} s)"
    )
    print(f"  migrate-bot --help      {help_s:6.2f} s  (goal <= {VERSION_GOAL_S} s)")
    print(f"  migrate-bot targets     {targets:6.2f} s  (goal <= {TARGETS_GOAL_S} s)")
    print(
        f"  migrate-bot status      {status:6.2f} s  alembic current {current:.2f} s,"
        f" {status - current:+.2f} s (goal <= + {STATUS_GOAL_S} s)"
    )


def report(what: str, plain: list[float], bots: list[BotRun]) -> None:
    median = statistics.median
    plain_s = median(plain)
    apply_s = median(b.phases.get("apply", float("nan")) for b in bots)
    total_s = median(b.total_s for b in bots)
    print(f"{what}, {len(plain)} run(s) each, medians; {bots[-1].applied} revisions applied")
    print(f"  plain alembic upgrade head (whole process)   {plain_s:7.2f} s")
    print(
        f"  migrate-bot revision phase                   {apply_s:7.2f} s"
        f"   ratio {apply_s / plain_s:.2f} (goal <= {REVISION_GOAL})"
    )
    goal_s = WHOLE_GOAL_RATIO * plain_s + WHOLE_GOAL_S
    print(
        f"  migrate-bot upgrade --yes (whole process)    {total_s:7.2f} s"
        f"   plain + {total_s - plain_s:.2f} s (goal <= {WHOLE_GOAL_RATIO} x plain"
        f" + {WHOLE_GOAL_S} s = {goal_s:.2f} s)"
    )
    print("  where the bot's time goes (medians):")
    print(
        f"    {'before the run (plan, request, lock, inspect)':<46}"
        f" {median(b.before_run_s for b in bots):.2f} s"
    )
    for phase in PHASES:
        print(f"    {phase:<46} {median(b.phases.get(phase, 0.0) for b in bots):.2f} s")


if __name__ == "__main__":
    sys.exit(main())
