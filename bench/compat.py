"""Compatibility check: your Alembic project, plain Alembic beside migrate-bot, step by step.

Two fresh databases on one server. On the first, plain Alembic: upgrade head,
downgrade -5, upgrade head, downgrade base. On the second, the bot as a user
runs it (``migrate-bot`` processes, a break-glass request each): plan, check,
upgrade, downgrade -5, upgrade, downgrade base. Prints one table: each step's
exit code, where the database ended and, for a failure, the revision file it
failed in, plain and bot side by side, with a verdict. The bot should
succeed wherever plain Alembic does and fail in the same revision where it
fails (where plain Alembic runs a failing series in one transaction and ends
where it began, the bot ends at the failing revision: said so, and plain Alembic
is then brought to the bot's revision with its own ``upgrade``/``downgrade REV``
so that the next step starts from the same place on both sides).

    .venv/bin/python bench/compat.py PATH/TO/alembic.ini [--python P] [--env NAME=VALUE]...
        [--section S] [--x K=V] [--working-dir D] [--script-location D] [--flask-app M:F]
        [--url-option NAME] [--no-sqlalchemy-url] [--url-driver D] [--driver D]
        [--plain-sets-url] [--prepare "CMD"] [--plain "CMD"] [--server URL]

``{url}``, ``{host}``, ``{port}``, ``{user}``, ``{password}`` and ``{dbname}`` in
``--env`` values, ``--prepare`` and ``--plain`` are each fresh database's.
Names whose value is ``{url}`` become the target's ``url_env_names``, those
whose value holds ``{url}``, ``{host}``, ``{port}``, ``{user}``, ``{password}``
or ``{dbname}`` otherwise its ``url_env_parts`` (each database env.py runs on
gets its own); the others its ``child_env``. ``--prepare`` runs before anything on each fresh
database (e.g. the application's own "create the schema and stamp"); ``--plain``
replaces ``alembic -c INI``, the console script beside P (e.g. ``"flask db"`` for
Flask-Migrate: the step's arguments follow ``--``). ``--url-driver asyncpg`` writes
both URLs (and ``{url}``) as ``postgresql+asyncpg://`` (as an async project's users
do); ``--driver`` sets the target's ``driver`` key; ``--url-option`` adds ini options
beside ``sqlalchemy.url``, which ``--no-sqlalchemy-url`` leaves unset.
``--plain-sets-url``: plain Alembic gets the URL in ``sqlalchemy.url`` (its
``command`` API on the ini, the option set as a program that ships its
migrations does), for an ini that names another database. Without ``--server``:
$MIGRATE_BOT_TEST_DATABASE_URL's server, else an embedded PostgreSQL in a temporary
directory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.config.alembic_project import URL_PLACEHOLDER
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server

BOT = Path(sys.executable).with_name("migrate-bot")
URL_PART_VALUES = ("{host}", "{port}", "{user}", "{password}", "{dbname}")
PLAIN_STEPS = (("upgrade", "head"), ("downgrade", "-5"), ("upgrade", "head"), ("downgrade", "base"))
BOT_STEPS = (
    ("plan", ()),
    ("check", ()),
    ("upgrade", ("--yes",)),
    ("downgrade", ("-5", "--yes")),
    ("upgrade", ("--yes",)),
    ("downgrade", ("base", "--yes")),
)
REVISION_FILE = re.compile(r"([\w.-]+/[\w.-]+\.py)\", line \d+, in (?:upgrade|downgrade)$", re.M)
ALEMBIC_COMMAND = "alembic/command.py"  # Alembic's own upgrade()/downgrade(), not a revision
# failing before any revision: a frame of env.py (plain), env.py named in the error (the bot)
PLAIN_IN_ENV_PY = re.compile(r"env\.py\", line \d+, in ")
# Alembic's own refusals (an ambiguous walk, an unknown revision) also pass through env.py
ALEMBIC_REFUSAL = re.compile(r"^(?:alembic\.util\.exc\.)?CommandError: |^FAILED: ", re.M)
BOT_IN_ENV_PY = re.compile(r"env\.py \([^)]*env\.py:\d+\)")
ENV_PY = "env.py"
BOT_FAILED_IN = re.compile(r"\w+ \(([\w.-]+/[\w.-]+\.py)(?::\d+)?\) failed")
# a Flask app whose factory migrates the database itself fails while it is created
BOT_FACTORY_FAILED_IN = re.compile(
    r"creating the Flask app \S+ \((?:[\w.-]+/)*([\w.-]+/[\w.-]+\.py):\d+\)"
)
STEP_TIMEOUT_S = 600


@dataclass(frozen=True)
class Step:
    """One step's result: exit code, seconds, the revisions after it, where it failed."""

    name: str
    code: int
    seconds: float
    revisions: str
    failed_in: str
    first_error: str


def placeholders(url: DatabaseUrl, driver: str | None) -> dict[str, str]:
    socket = dict(url.query).get("host", "")
    return {
        "url": url.for_driver(driver).text(),
        "host": url.host or (socket if isinstance(socket, str) else socket[0]),
        "port": str(url.port or 5432),
        "user": url.username or "",
        "password": url.password or "",
        "dbname": url.database,
    }


def fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


@dataclass
class Setup:
    args: argparse.Namespace
    root: Path

    @property
    def url_options(self) -> list[str]:
        default = [] if self.args.no_sqlalchemy_url else ["sqlalchemy.url"]
        return default + self.args.url_option

    @property
    def workdir(self) -> Path:
        return self.args.working_dir or self.args.config.parent

    def env(self, values: dict[str, str]) -> dict[str, str]:
        extra = dict(pair.split("=", 1) for pair in self.args.env)
        return {**os.environ, **{k: fill(v, values) for k, v in extra.items()}}

    def prepare(self, values: dict[str, str]) -> None:
        if self.args.prepare:
            command = [fill(part, values) for part in shlex.split(self.args.prepare)]
            subprocess.run(
                command,
                cwd=self.workdir,
                env=self.env(values),
                check=True,
                capture_output=True,
                timeout=STEP_TIMEOUT_S,
            )

    def targets_file(self, bot: dict[str, str], plain: dict[str, str]) -> Path:
        extra = dict(pair.split("=", 1) for pair in self.args.env)
        url_names = [k for k, v in extra.items() if v == "{url}"]
        parts = {  # a part by its name; a text with placeholders as it is
            k: v[1:-1] if v in URL_PART_VALUES else v
            for k, v in extra.items()
            if v != "{url}" and URL_PLACEHOLDER.search(v)
        }
        handed = {*url_names, *parts}
        path = self.root / "compat.toml"
        lines = [f'[bot]\nstate_path = "{(self.root / "state.sqlite3").as_posix()}"\n']
        for name, values in (("app", bot), ("plain", plain)):
            others = [f"{k}={fill(v, values)}" for k, v in extra.items() if k not in handed]
            lines += [
                f"[targets.{name}]",
                f'database_url_env = "COMPAT_{name.upper()}_URL"',
                f'alembic_config = "{self.args.config.as_posix()}"',
                f'alembic_section = "{self.args.section}"',
                f'python = "{self.args.python}"',
                f"url_env_names = {json.dumps(url_names)}",
                "url_env_parts = {"
                + ", ".join(f"{k} = {json.dumps(v)}" for k, v in parts.items())
                + "}",
                f"child_env = {json.dumps(others)}",
                f"x_args = {json.dumps(self.args.x)}",
                f"url_ini_options = {json.dumps(self.url_options)}",
                'approvers = ["U0BOB"]',
                "checklist = []",
                f'backup = "file://{(self.root / "backups").as_posix()}"',
                'max_duration = "30min"',
            ]
            for key, value in (
                ("driver", self.args.driver),
                ("working_dir", self.args.working_dir),
                ("script_location", self.args.script_location),
                ("flask_app", self.args.flask_app),
            ):
                if value:
                    lines.append(f'{key} = "{value}"')
            lines.append("")
        path.write_text("\n".join(lines))
        return path


def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, float, str]:
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        code, output = 124, f"timed out after {STEP_TIMEOUT_S} s"
    return code, time.perf_counter() - started, output


def status(config: Path, target: str, env: dict[str, str]) -> str:
    code, _, output = run(
        [str(BOT), "status", target, "--json"],
        config.parent,
        {**env, "MIGRATE_BOT_CONFIG": str(config)},
    )
    if code:
        return "?"
    # sorted: the version table's rows come in no set order, and two heads read in
    # another order are the same revisions
    return ",".join(sorted(json.loads(output)["current"])) or "base"


def first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"Error|error:|failed|FAIL", line)]
    return (errors[-1] if errors else (lines[-1] if lines else ""))[:140]


def plain_alembic(python: str) -> list[str]:
    """The project's ``alembic`` command as its users type it: the console script beside
    the interpreter. ``python -m alembic`` would put the working folder first on
    ``sys.path``, where a module named like the stdlib's (``types.py``) shadows it."""
    script = Path(shutil.which(python) or python).with_name("alembic")
    return [str(script)] if script.is_file() else [python, "-m", "alembic"]


# plain Alembic's own commands on the ini, with sqlalchemy.url set to $DATABASE_URL
# (``-c`` puts the working folder first on sys.path, where the alembic command has its own
# folder: a project folder holding one named ``alembic`` would shadow Alembic itself)
SETS_URL = (
    "import os, sys\n"
    "if sys.path and sys.path[0] in ('', os.getcwd()): del sys.path[0]\n"
    "from alembic import command\n"
    "from alembic.config import Config\n"
    "config = Config(sys.argv[1], ini_section=sys.argv[2])\n"
    "config.set_main_option('sqlalchemy.url', os.environ['DATABASE_URL'].replace('%', '%%'))\n"
    "getattr(command, sys.argv[3])(config, sys.argv[4])\n"
)


def plain_command(setup: Setup, values: dict[str, str], verb: str, where: str) -> list[str]:
    """Plain Alembic's command line for one step, as the project's users type it."""
    args = setup.args
    if args.plain:
        return [fill(p, values) for p in shlex.split(args.plain)] + [verb, "--", where]
    if args.plain_sets_url:
        return [args.python, "-c", SETS_URL, str(args.config), args.section, verb, where]
    return [
        *plain_alembic(args.python),
        "-c",
        str(args.config),
        "--name",
        args.section,
        *[a for x in args.x for a in ("-x", x)],
        verb,
        where,
    ]


def plain_step(setup: Setup, values: dict[str, str], config: Path, verb: str, where: str) -> Step:
    env = {**setup.env(values), "DATABASE_URL": values["url"]}
    code, seconds, output = run(plain_command(setup, values, verb, where), setup.workdir, env)
    found = [f for f in REVISION_FILE.findall(output) if f != ALEMBIC_COMMAND] if code else []
    if code and not found and PLAIN_IN_ENV_PY.search(output) and not ALEMBIC_REFUSAL.search(output):
        found = [ENV_PY]
    return Step(
        f"{verb} {where}",
        code,
        seconds,
        status(config, "plain", {**os.environ, "COMPAT_PLAIN_URL": values["url"]}),
        found[-1] if found else "",
        first_error(output) if code else "",
    )


def bot_step(config: Path, values: dict[str, str], verb: str, extra: tuple[str, ...]) -> Step:
    env = {**os.environ, "MIGRATE_BOT_CONFIG": str(config), "COMPAT_APP_URL": values["url"]}
    code, seconds, output = run([str(BOT), verb, "app", *extra], config.parent, env)
    found = (BOT_FAILED_IN.findall(output) or BOT_FACTORY_FAILED_IN.findall(output)) if code else []
    if code and not found and BOT_IN_ENV_PY.search(output):
        found = [ENV_PY]
    return Step(
        " ".join([verb, *[e for e in extra if e != "--yes"]]),
        code,
        seconds,
        status(config, "app", env),
        found[-1] if found else "",
        first_error(output) if code else "",
    )


def align_plain(
    setup: Setup, values: dict[str, str], config: Path, plain: Step, bot: Step
) -> Step | None:
    """Where both failed in the same revision but plain Alembic ended elsewhere (it ran
    the series in one transaction and rolled it back whole, or a revision's
    ``autocommit_block`` had committed part of it) while the bot stopped at the failing
    revision, bring plain to the bot's revision with plain Alembic itself, so the next
    step starts from the same place on both sides (else every later step compares two
    different databases)."""
    rolled_back_whole = bool(
        plain.code
        and bot.code
        and plain.failed_in not in ("", ENV_PY)
        and plain.failed_in == bot.failed_in
    )
    if not rolled_back_whole or plain.revisions == bot.revisions or "," in bot.revisions:
        return None
    verb = plain.name.split()[0]
    return plain_step(setup, values, config, verb, bot.revisions)


Rows = list[tuple[Step | None, Step]]


def compare(
    setup: Setup, config: Path, plain_db: dict[str, str], bot_db: dict[str, str]
) -> tuple[Rows, list[Step]]:
    """Each step on both sides in turn: plan and check (the bot's own), then plain
    Alembic's step and the bot's, plain brought to the bot's revision where needed."""
    rows: Rows = [(None, bot_step(config, bot_db, verb, extra)) for verb, extra in BOT_STEPS[:2]]
    aligned: list[Step] = []
    for (verb, where), (bot_verb, extra) in zip(PLAIN_STEPS, BOT_STEPS[2:], strict=True):
        plain = plain_step(setup, plain_db, config, verb, where)
        bot = bot_step(config, bot_db, bot_verb, extra)
        rows.append((plain, bot))
        step = align_plain(setup, plain_db, config, plain, bot)
        if step is not None:
            aligned.append(step)
    return rows, aligned


def verdict(plain: Step | None, bot: Step) -> str:
    """How the bot's step compares with plain Alembic's (the bot's own steps: on its own)."""
    if plain is None:
        if bot.code and bot.failed_in == ENV_PY:
            return "fails in env.py, before any revision (compare plain's steps below)"
        return "ok" if bot.code == 0 else "BOT FAILS"
    if plain.code == 0 or bot.code == 0:
        outcomes = {
            (True, True): "same" if plain.revisions == bot.revisions else "DIFFERENT REVISION",
            (True, False): "BOT FAILS WHERE PLAIN DOES NOT",
            (False, True): "bot succeeds where plain fails",
        }
        return outcomes[(plain.code == 0, bot.code == 0)]
    return both_failed(plain, bot)


def both_failed(plain: Step, bot: Step) -> str:
    """Where two failing steps failed, and whether they ended in the same place."""
    same_end = plain.revisions == bot.revisions
    if plain.failed_in == bot.failed_in == ENV_PY and same_end:
        return "both fail in env.py, before any revision"
    if plain.failed_in and plain.failed_in == bot.failed_in:
        return "both fail in the same revision" + (
            "" if same_end else " (plain ends elsewhere; the bot stops there)"
        )
    if not plain.failed_in and not bot.failed_in and same_end:
        return "both refuse, nothing changed"
    return "both fail (see errors)"


def report(rows: Rows, aligned: list[Step]) -> None:
    print(f"{'step':<14} {'plain':<34} {'bot':<34} verdict")
    for p, b in rows:
        left = (
            "-"
            if p is None
            else f"{p.code} {p.seconds:6.1f}s {p.revisions[:14]} {p.failed_in[-10:]}"
        )
        right = f"{b.code} {b.seconds:6.1f}s {b.revisions[:14]} {b.failed_in[-10:]}"
        print(f"{b.name:<14} {left:<34} {right:<34} {verdict(p, b)}")
    for step in aligned:
        outcome = f"now at {step.revisions}" if not step.code else f"failed: {step.first_error}"
        print(f"  plain brought to the bot's revision (alembic {step.name}): {outcome}")
    for label, index in (("plain", 0), ("bot", 1)):
        for row in rows:
            side = row[index]
            if side is not None and side.code:
                print(f"  {label} {side.name}: {side.first_error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=lambda p: Path(p).resolve())
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--section", default="alembic")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--x", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--url-option", action="append", default=[])
    parser.add_argument("--no-sqlalchemy-url", action="store_true")
    parser.add_argument("--url-driver")
    parser.add_argument("--driver")
    parser.add_argument("--plain-sets-url", action="store_true")
    parser.add_argument("--working-dir", type=lambda p: Path(p).resolve())
    parser.add_argument("--script-location")
    parser.add_argument("--flask-app")
    parser.add_argument("--prepare")
    parser.add_argument("--plain")
    parser.add_argument("--server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="migrate-bot-compat-") as scratch:
        root = Path(scratch)
        configured = args.server or os.environ.get("MIGRATE_BOT_TEST_DATABASE_URL")
        server = DatabaseUrl.parse(configured) if configured else start_embedded_server(root / "pg")
        tag = secrets.token_hex(3)
        plain_db = placeholders(ensure_database(server, f"compat_plain_{tag}"), args.url_driver)
        bot_db = placeholders(ensure_database(server, f"compat_bot_{tag}"), args.url_driver)
        setup = Setup(args, root)
        config = setup.targets_file(bot_db, plain_db)
        for values in (plain_db, bot_db):
            setup.prepare(values)
        rows, aligned = compare(setup, config, plain_db, bot_db)
        print(f"{args.config} [{args.section}]")
        report(rows, aligned)
    return 0


if __name__ == "__main__":
    sys.exit(main())
