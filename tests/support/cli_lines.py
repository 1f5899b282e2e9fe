"""Command lines written outside the code (the Procfile, systemd units) checked against the CLI."""

from __future__ import annotations

import shlex

from bot.cli import cli


def assert_valid_command(line: str, program: str = "migrate-bot") -> list[str]:
    """``line`` runs ``program`` with a command and options the CLI has; its words."""
    words = shlex.split(line)
    commands = cli.every_command()
    assert words[0] == program and words[1] in commands, line
    options = {opt for param in commands[words[1]].params for opt in param.opts}
    assert {w for w in words if w.startswith("--")} <= options, line
    return words
