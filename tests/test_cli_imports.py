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
        "bot.cli.quick_exit",
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


def test_a_break_glass_run_starts_its_children_before_loading_the_run() -> None:
    """``upgrade``'s module loads only what starting the plan's Alembic child needs; psycopg,
    the pipeline, the checks and the requests load after, while the children start."""
    probe = "import json, sys, bot.cli.break_glass; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = set(json.loads(done.stdout))
    late = {"commands.pipeline", "commands.checks", "commands.requests", "bot.cli.runs"}
    assert not modules & late, sorted(modules & late)
    assert "alembic" not in roots(modules)  # the state's own schema is not the SQLite default's
    assert "psycopg" not in roots(modules)  # loaded once the plan's child has started
    assert "sqlalchemy" not in roots(modules)  # a URL is parsed without it (0.17 s)


def test_status_starts_its_child_before_loading_psycopg() -> None:
    """``status`` reads the server's version while its Alembic child starts, not before."""
    probe = "import json, sys, bot.cli.status; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert not roots(set(json.loads(done.stdout))) & {"psycopg", "sqlalchemy", "alembic"}


def test_the_console_script_exits_as_python_would_without_the_teardown(tmp_path: Path) -> None:
    """Threads are waited for, atexit handlers run, buffered output is flushed and the
    code is kept; only the interpreter's freeing of modules is skipped."""
    script = f"""
import atexit, pathlib, sys, threading, time
from bot.cli.quick_exit import exit_quickly
folder = pathlib.Path({str(tmp_path)!r})
atexit.register(lambda: (folder / "atexit").write_text("ran"))
def late():
    time.sleep(0.3)
    (folder / "thread").write_text("done")
threading.Thread(target=late).start()
sys.stdout.write("no newline, still in the buffer")
exit_quickly(3)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 3
    assert done.stdout == "no newline, still in the buffer"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "done"


def test_backup_loads_neither_the_run_path_nor_alembic(tmp_path: Path) -> None:
    """`migrate-bot backup` is timed against pg_dump (bench/backup.py): it loads what a
    backup needs, not the pipeline's run path (restore's) nor Alembic (the shared state's
    schema upgrade, or a project without a known version table, load it when needed)."""
    modules = loaded("backup", "--help", cwd=tmp_path)
    assert "commands.backup.take" in modules
    assert not roots(modules) & {"alembic", "mako", "boto3"}, sorted(roots(modules))
    assert not {"bot.cli.runs", "commands.pipeline"} & modules


def test_every_command_is_registered_with_its_own_help() -> None:
    """The registry's one line is the start of each command's own help, and each name is
    the command's own: they cannot drift apart."""
    context = click.Context(cli)
    for name, (_, summary) in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first.startswith(summary.rstrip(".")), (name, summary, first)
