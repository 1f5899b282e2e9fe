"""A shared state for tests: a fresh PostgreSQL database named by ``$MIGRATE_BOT_STATE_URL``.

``shared_state_url`` sets the variable for the test (and its child processes)
and closes the pools this process opened on it afterwards, so the database
can be dropped. ``SHARED_BOT_KEYS`` is the ``[bot]`` line that points a
targets file at it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from commands.postgres.database_url import DatabaseUrl
from commands.state.shared import close_shared_states
from tests.support.databases import create_database, drop_database

STATE_URL_ENV = "MIGRATE_BOT_STATE_URL"
SHARED_BOT_KEYS = f'state_url_env = "{STATE_URL_ENV}"'


@pytest.fixture
def shared_state_url(pg_server: DatabaseUrl, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The URL of an empty database of its own, in ``$MIGRATE_BOT_STATE_URL``."""
    database = create_database(pg_server, prefix="state")
    url = database.url.render_as_string(hide_password=False)
    monkeypatch.setenv(STATE_URL_ENV, url)
    yield url
    close_shared_states()
    drop_database(pg_server, database)
