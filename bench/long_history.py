"""Benchmark: a long history, plain ``alembic upgrade head`` beside ``migrate-bot upgrade``.

Both run as a user runs them, as processes, on fresh databases of the same
server: plain Alembic (``python -m alembic -c alembic.ini upgrade head``) and
the bot's break-glass upgrade (``migrate-bot upgrade TARGET --yes``: plan,
request, run lock, pre-flight with lint, backup, every revision stepped and
recorded, verification). The bot's phases are read from its audit log.

Goals (issue 15): the bot's revision phase ≤ 1.3 x plain Alembic's whole
upgrade; the bot's whole upgrade ≤ plain Alembic + 2.5 s on a small database.
Prints both with their ratio, measured side by side in one run; asserts nothing.

A database in use is never at base: both databases are first brought to
``--start`` (default the first revision, untimed, with plain Alembic), as a
team's database stands when the rest of a history is pending; ``--start base``
times the whole history from an empty database.

    .venv/bin/python bench/long_history.py [--revisions 120] [--runs 3]
    .venv/bin/python bench/long_history.py --config PATH/alembic.ini \\
        [--python PATH/bin/python] [--env NAME={url}] [--env NAME=value] [--section S]

With ``--config``, a real project is measured instead: ``{url}`` in an
``--env`` value is replaced by each fresh database's URL (those names become
the target's ``url_env_names``; the others its ``child_env``). Uses
$MIGRATE_BOT_TEST_DATABASE_URL's server when set, else an embedded
PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server
from commands.state.audit_log import open_audit_log
from commands.state.location import StateLocation
from commands.state.vocabulary import EventKind
from tests.support.generated_project import generated_project

BOT = Path(sys.executable).with_name("migrate-bot")
PHASES = ("preflight", "backup", "apply", "verify")
REVISION_GOAL = 1.3
WHOLE_GOAL_S = 2.5


@dataclass(frozen=True)
class Project:
    """What both sides run: an alembic.ini, its Python, and the environment it reads."""

    config: Path
    python: str
    section: str
    env: dict[str, str]  # values may hold {url}

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
    command = [project.python, "-m", "alembic", "-c", str(project.config)]
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
        'approvers = ["U0BOB"]\n'
        f'backup = "file://{(root / "backups").as_posix()}"\n'
    )
    return path


def run_bot(root: Path, project: Project, url: str) -> BotRun:
    config = targets_file(root, project)
    state = root / "state.sqlite3"
    for leftover in root.glob("state.sqlite3*"):
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


def fresh(server: DatabaseUrl, label: str) -> str:
    database = ensure_database(server, f"bench_{label}_{secrets.token_hex(3)}")
    return database.url.render_as_string(hide_password=False)


def started_at(project: Project, server: DatabaseUrl, label: str, start: str) -> str:
    """A fresh database, brought to ``start`` with plain Alembic (not timed)."""
    url = fresh(server, label)
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
        project = Project(config, args.python, args.section, parse_env(args.env))
        start = args.start or ("r0000" if args.config is None else "base")
        plain, bots = [], []
        for _ in range(args.runs):
            plain.append(run_plain(project, started_at(project, server, "plain", start)))
            bots.append(run_bot(root, project, started_at(project, server, "bot", start)))
        report(f"{what} (from {start})", plain, bots)
    return 0


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
    print(
        f"  migrate-bot upgrade --yes (whole process)    {total_s:7.2f} s"
        f"   plain + {total_s - plain_s:.2f} s (goal <= + {WHOLE_GOAL_S} s)"
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
