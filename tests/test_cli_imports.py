"""The terminal answers at once: what ``migrate-bot`` imports to answer each command.

Measured as the set of modules a real process has loaded once it answered (not
as seconds, which a loaded machine makes meaningless): ``--version`` and
``--help`` load none of the bot's heavy parts, ``targets`` no database library,
and every command's module is loaded only when that command runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from bot.cli import COMMANDS, cli

HEAVY = ("sqlalchemy", "psycopg", "alembic", "boto3", "slack_bolt", "pglast", "apscheduler")
ANSWER = """
import json, sys
from bot.cli import main
code = main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded(*args: str, cwd: Path) -> set[str]:
    """The modules a ``migrate-bot ARGS`` process had loaded once it answered."""
    done = subprocess.run(
        [sys.executable, "-c", ANSWER, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "MIGRATE_BOT_CONFIG": str(cwd / "none.toml")},
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_load_no_command(args: list[str], tmp_path: Path) -> None:
    modules = loaded(*args, cwd=tmp_path)
    assert not roots(modules) & set(HEAVY), sorted(roots(modules) & set(HEAVY))
    ours = sorted(m for m in modules if m.split(".")[0] in ("bot", "commands", "audit"))
    assert set(ours) <= {
        "audit",
        "audit.redact",
        "bot",
        "bot.cli",
        "bot.cli.lazy_group",
        "bot.logs",
        "bot.logs.json_format",
        "bot.logs.setup",
        "commands",
        "commands.errors",
    }, ours
    assert len(modules) < 260, len(modules)  # the interpreter's own, click's and these


def test_targets_loads_no_database_library(tmp_path: Path) -> None:
    modules = loaded("targets", cwd=tmp_path)
    assert not roots(modules) & set(HEAVY), sorted(roots(modules) & set(HEAVY))
    assert "commands.pipeline" not in modules


def test_every_command_is_registered_with_its_own_help() -> None:
    """The registry's one line is the start of each command's own help, and each name is
    the command's own: they cannot drift apart."""
    context = click.Context(cli)
    for name, (_, summary) in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first.startswith(summary.rstrip(".")), (name, summary, first)
