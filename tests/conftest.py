"""Shared fixtures: a real PostgreSQL for the session and a fresh database per test.

The server is the one named by $MIGRATE_BOT_TEST_DATABASE_URL when set (any
database on it; the tests create and drop their own), else an embedded
PostgreSQL started once for the session in a temporary directory.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.config.targets_file import BUNDLED_MIGRATIONS, CONFIG_ENV
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import start_embedded_server
from tests.support.databases import (
    TEST_DATABASE_ENV,
    create_database,
    drop_database,
    stop_embedded_server,
)

# moto's S3 server (s3_server, s3); backup fixtures (populated_db, store); Chromium (browser);
# the sandbox of the browser tests (sandbox, page, bot_client);
# a database before a risky revision (before_risky_db); a streaming replica (replica);
# a row of docs/reliability.md (reliability)
pytest_plugins = [
    "tests.support.s3_server",
    "tests.support.backup_targets",
    "tests.support.browser",
    "tests.support.sandbox_fixtures",
    "tests.support.checks_fixtures",
    "tests.support.shared_state",
    "tests.support.statement_stats_server",
    "tests.support.replica",
    "tests.support.reliability.results",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        help="also run the long cases (marked slow): every kill point, load size and variant;"
        " CI runs a subset without it",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--full"):
        return
    skip = pytest.mark.skip(reason="long case: run with --full")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[DatabaseUrl]:
    """A PostgreSQL server for the whole session (its maintenance database's URL)."""
    configured = os.environ.get(TEST_DATABASE_ENV)
    if configured:
        yield DatabaseUrl.parse(configured)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="migrate-bot-pg-")) / "data"
    server = start_embedded_server(data_dir, keep_running=True, preload=())
    yield server
    stop_embedded_server(data_dir)


@pytest.fixture
def fresh_db(pg_server: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """An empty database of its own for one test, dropped afterwards."""
    database = create_database(pg_server)
    yield database
    drop_database(pg_server, database)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_db: DatabaseUrl) -> Path:
    """A targets file with target `app` (the bundled project on ``fresh_db``), made current."""
    monkeypatch.setenv("APP_DATABASE_URL", fresh_db.text())
    path = tmp_path / "migrate-bot.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [bot]
            state_path = "state.sqlite3"

            [targets.app]
            database_url_env = "APP_DATABASE_URL"
            script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
            approvers = ["U0BOB"]
            backup = "file://backups"
            """
        )
    )
    monkeypatch.setenv(CONFIG_ENV, str(path))
    monkeypatch.chdir(tmp_path)
    return path
