"""The drift check's replay started ahead (``replay_ahead.py``), on a real PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.migration.runtime.runner import AlembicRunner
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.scratch import DRIFT, stray_scratch_databases
from commands.schema.drift import measure_drift
from commands.schema.drift_report import DriftState
from commands.schema.history import history_schema, replay_identity
from commands.schema.replay_ahead import replay_ahead
from commands.schema.replay_cache import ReplayCache
from commands.targets import TargetHandle
from tests.support.alembic_projects import Rev, write_project
from tests.support.checks_support import copy_database, handle_for, upgrade
from tests.support.databases import drop_database


@pytest.fixture
def copy(pg_server: DatabaseUrl, before_risky_db: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """A database at the bundled project's first revisions, dropped after the test."""
    made = copy_database(pg_server, before_risky_db)
    yield made
    drop_database(pg_server, made)


def test_the_replay_ahead_fills_the_cache_the_drift_check_reads(
    copy: DatabaseUrl, tmp_path: Path
) -> None:
    handle: TargetHandle = handle_for(copy, tmp_path)
    cache = ReplayCache(tmp_path / "cache")
    with replay_ahead(handle, cache, early=True) as ahead:
        assert ahead is not None
        state = AlembicRunner.for_target(handle).inspect()
        ahead.replay(state)
        report = measure_drift(handle, state, cache=cache)  # waits for the replay
    assert report.state is DriftState.OK and report.cached  # the replay ahead's schema
    _, key = replay_identity(handle, state)
    replayed = history_schema(handle, state, cache=ReplayCache(None), fresh=True)
    assert cache.get(key) == replayed.schema  # what a replay of its own gives
    assert stray_scratch_databases(copy, DRIFT) == []


def test_nothing_is_replayed_ahead_when_cached_or_switched_off(
    copy: DatabaseUrl, tmp_path: Path
) -> None:
    handle = handle_for(copy, tmp_path)
    cache = ReplayCache(tmp_path / "cache")
    state = AlembicRunner.for_target(handle).inspect()
    history_schema(handle, state, cache=cache)
    with replay_ahead(handle, cache, early=True) as ahead:
        assert ahead is not None
        ahead.replay(state)
        assert ahead.session is not None
        assert ahead.session.child.process.wait(30) == 0  # ended at once: the cache had it
        assert stray_scratch_databases(copy, DRIFT) == []
    with replay_ahead(handle, cache) as ahead:  # not early: nothing is even started
        assert ahead is not None
        ahead.replay(state)
        assert ahead.session is None and stray_scratch_databases(copy, DRIFT) == []
    with replay_ahead(handle_for(copy, tmp_path, extra='drift = "off"'), cache) as ahead:
        assert ahead is None
    assert stray_scratch_databases(copy, DRIFT) == []


def test_a_replay_ahead_started_late_opens_only_for_a_replay(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    revision = f"jobs{secrets.token_hex(4)}"  # a history no other test replayed in this process
    project = write_project(
        tmp_path / "app", [Rev(id=revision, up_sql=("CREATE TABLE jobs (id int PRIMARY KEY)",))]
    )
    handle = handle_for(fresh_db, tmp_path, script_location=project)
    upgrade(handle)
    cache = ReplayCache(None)
    state = AlembicRunner.for_target(handle).inspect()
    with replay_ahead(handle, cache) as ahead:
        assert ahead is not None and ahead.session is None  # nothing before the plan's state
        ahead.replay(state)
        report = measure_drift(handle, state, cache=cache)  # waits for the replay
        assert ahead.session is not None  # opened for it
    assert report.state is DriftState.OK and report.cached
    assert stray_scratch_databases(fresh_db, DRIFT) == []
