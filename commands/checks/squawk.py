"""Runs squawk (the ``squawk-cli`` wheel's binary) over each revision's SQL.

Each revision is written to a file of its own and linted on its own, at the
live server's version, in one squawk process for speed. The two timeout rules
are excluded: the runner sets ``lock_timeout`` and ``statement_timeout`` on
every connection itself, so those findings would be noise on every statement.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from commands.errors import MigrateBotError

TIMEOUT_RULES = ("require-lock-timeout", "require-statement-timeout")
SQUAWK_TIMEOUT_S = 120


class LintError(MigrateBotError):
    """squawk is missing, failed, or answered something that is not its JSON report."""


@dataclass(frozen=True)
class SquawkFinding:
    """One squawk report entry, placed in its revision's SQL (0-based line and column)."""

    revision: str
    rule: str
    level: str
    message: str
    help: str
    line: int
    column: int


def squawk_binary() -> str:
    """The squawk installed beside this Python (the venv), else the one on $PATH."""
    beside = Path(sys.executable).with_name("squawk")
    if beside.exists():
        return str(beside)
    found = shutil.which("squawk")
    if found is None:
        raise LintError("squawk is not installed (it comes with the squawk-cli package)")
    return found


def run_squawk(
    sql_by_revision: Mapping[str, str],
    *,
    pg_version: tuple[int, int],
    exclude: tuple[str, ...] = TIMEOUT_RULES,
) -> list[SquawkFinding]:
    """Lint each revision's SQL on its own; raises ``LintError`` if squawk fails."""
    if not sql_by_revision:
        return []
    with tempfile.TemporaryDirectory(prefix="migrate-bot-lint-") as scratch:
        files: dict[str, str] = {}
        for index, (revision, sql) in enumerate(sql_by_revision.items()):
            path = Path(scratch) / f"{index:05d}.sql"
            path.write_text(sql, encoding="utf-8")
            files[path.name] = revision
        command = [
            squawk_binary(),
            "--reporter=json",
            f"--pg-version={pg_version[0]}.{pg_version[1]}",
            *([f"--exclude={','.join(exclude)}"] if exclude else []),
            *sorted(files),
        ]
        try:
            done = subprocess.run(
                command,
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=SQUAWK_TIMEOUT_S,
                check=False,  # exit 1 means "found something"; the JSON says what
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LintError(f"squawk did not run: {exc}") from None
    try:
        entries = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        problem = (done.stderr or done.stdout).strip().splitlines()
        raise LintError(
            f"squawk failed (exit {done.returncode}): {problem[-1] if problem else 'no output'}"
        ) from None
    return [
        SquawkFinding(
            revision=files[Path(entry["file"]).name],
            rule=entry["rule_name"],
            level=entry["level"],
            message=entry["message"],
            help=entry.get("help") or "",
            line=int(entry["line"]),
            column=int(entry["column"]),
        )
        for entry in entries
    ]
