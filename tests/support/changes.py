"""A target with the bundled project and a change file of the test's own, the ``Changes``
service over it, and the simulated application as a process to deploy and replace."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from audit.sqlite_store import SqliteEventStore
from commands.changes.service import Changes
from commands.config.targets_file import BUNDLED_MIGRATIONS, parse_config
from commands.postgres.database_url import DatabaseUrl
from tests.support.checks_support import url_text

DEMO_CHANGE = BUNDLED_MIGRATIONS / "changes" / "rename-youtube-id.toml"
ROOT = Path(__file__).resolve().parents[2]


def with_quiet_period(change_file: str, quiet_for: str) -> str:
    """The change file's text with its gate's ``quiet_for`` replaced (tests use seconds)."""
    return re.sub(r'quiet_for = "[^"]*"', f'quiet_for = "{quiet_for}"', change_file)


def app_toml(url_env: str, extra: str = "") -> str:
    """A targets file: its state beside it, target ``app`` on the bundled project with its
    change files in ``./changes``, approved by Bob, no checklist; ``extra`` keys after."""
    return textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"
        [targets.app]
        database_url_env = "{url_env}"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        changes_dir = "changes"
        approvers = ["U0BOB"]
        checklist = []
        backup = "file://backups"
        """
    ) + textwrap.dedent(extra)


def write_demo_change(tmp_path: Path, quiet_for: str) -> None:
    """The bundled rename change in ``tmp_path/changes``, its gate quiet for ``quiet_for``."""
    folder = tmp_path / "changes"
    folder.mkdir(exist_ok=True)
    text = with_quiet_period(DEMO_CHANGE.read_text(), quiet_for)
    (folder / DEMO_CHANGE.name).write_text(text)


def changes_for(
    database: DatabaseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    quiet_for: str = "2min",
) -> Changes:
    """Target ``app`` on ``database`` (its URL in the environment, as the pre-flight reads
    it), holding the bundled rename change with ``quiet_for`` as its gate's quiet period."""
    write_demo_change(tmp_path, quiet_for)
    monkeypatch.setenv("APP_URL", url_text(database))
    config = parse_config(app_toml("APP_URL"), source="test.toml", base=tmp_path)
    return Changes(config, SqliteEventStore(tmp_path / "state.sqlite3"))


@contextmanager
def application(database: DatabaseUrl, profile: str) -> Iterator[subprocess.Popen[str]]:
    """The simulated application (``tests/support/app_process.py``) running ``profile``
    until the block ends: one version of it, deployed."""
    app = subprocess.Popen(
        [sys.executable, "-m", "tests.support.app_process", profile, "--pause", "0.05"],
        env={**os.environ, "APP_DATABASE_URL": url_text(database)},
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "ready"
        yield app
    finally:
        app.terminate()
        app.wait(30)
