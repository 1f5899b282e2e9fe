"""A second PostgreSQL for the session, with ``pg_stat_statements`` loaded.

The shared ``pg_server`` does not load it (so the checks that need it can be
seen saying it is missing, and the other tests pay nothing for it); tests of
the application's live use and of the watch get this one, started once per
test process, only by the tests that ask for it. Always the embedded wheel's
server, even with $MIGRATE_BOT_TEST_DATABASE_URL: it must load the library.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import STATEMENT_STATS, start_embedded_server
from tests.support.databases import create_database, drop_database, stop_embedded_server


@pytest.fixture(scope="session")
def pgss_server() -> Iterator[DatabaseUrl]:
    data_dir = Path(tempfile.mkdtemp(prefix="migrate-bot-pgss-")) / "data"
    server = start_embedded_server(data_dir, keep_running=True, preload=(STATEMENT_STATS,))
    yield server
    stop_embedded_server(data_dir)


@pytest.fixture
def pgss_db(pgss_server: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """An empty database of its own on the server that loads pg_stat_statements."""
    database = create_database(pgss_server)
    yield database
    drop_database(pgss_server, database)
