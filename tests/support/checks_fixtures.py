"""Fixtures the checks tests share (registered by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from commands.postgres.database_url import DatabaseUrl
from tests.support.checks_support import BEFORE_RISKY, handle_for, upgrade
from tests.support.databases import create_database, drop_database


@pytest.fixture(scope="session")
def before_risky_db(
    pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseUrl]:
    """The bundled project at the revision before the risky one, no rows; copy it to change it."""
    database = create_database(pg_server, "before_risky")
    upgrade(handle_for(database, tmp_path_factory.mktemp("before_risky")), BEFORE_RISKY)
    yield database
    drop_database(pg_server, database)
