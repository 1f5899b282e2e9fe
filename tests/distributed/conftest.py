"""Fixtures of the shared-deployment tests: a project whose revisions sleep, and the
deployment's processes, stopped at the end whatever happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.postgres.database_url import DatabaseUrl
from tests.support.alembic_projects import write_project
from tests.support.reliability.world import revisions
from tests.support.shared_deployment import Deployment

SLEEP_S = 4.0  # inside each of the two table-pair revisions: time to kill a worker in one


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", revisions(SLEEP_S))


@pytest.fixture
def databases(pg_server: DatabaseUrl, fresh_db: DatabaseUrl) -> dict[str, str]:
    """The ``quick`` target's database URL, as its workers see it."""
    return {"QUICK_DATABASE_URL": fresh_db.text()}


@pytest.fixture
def deployment_factory(tmp_path: Path, shared_state_url: str) -> Iterator[list[Deployment]]:
    made: list[Deployment] = []
    yield made
    for deployment in made:
        deployment.close()
