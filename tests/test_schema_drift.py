"""Drift on a real PostgreSQL: a database migrated only by the bot is OK; every kind of
change made by hand is reported with its line, and the DDL offered puts it back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from commands.migration.runtime.runner import AlembicRunner, ProjectState
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.schema.drift import measure_drift
from commands.schema.drift_report import DriftReport, DriftState
from commands.schema.replay_cache import ReplayCache
from tests.support.alembic_projects import Rev, write_project
from tests.support.checks_support import handle_for, upgrade
from tests.support.databases import create_database, drop_database
from tests.support.drift_project import HAND_CHANGES, HandChange, write_every_kind_project


@dataclass(frozen=True)
class EveryKind:
    """A database the bot took to head with the every-kind project, and how to check it
    (one Alembic child and one replay for the whole module). The cases change it by hand
    and put it back with the DDL the check offers, one after the other."""

    database: DatabaseUrl
    project: Path
    state: ProjectState
    cache: ReplayCache
    base: Path

    def drift(self, extra: str = "") -> DriftReport:
        handle = handle_for(self.database, self.base, script_location=self.project, extra=extra)
        return measure_drift(handle, self.state, cache=self.cache)


@pytest.fixture(scope="module")
def every_kind(
    pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EveryKind]:
    base = tmp_path_factory.mktemp("every-kind")
    project = write_every_kind_project(base / "migrations")
    database = create_database(pg_server, "drift")
    handle = handle_for(database, base, script_location=project)
    upgrade(handle)
    state = AlembicRunner.for_target(handle).inspect()
    yield EveryKind(database, project, state, ReplayCache(base / "cache"), base)
    drop_database(pg_server, database)


def by_hand(database: DatabaseUrl, statements: tuple[str, ...] | list[str]) -> None:
    with connect(database) as conn:
        for statement in statements:
            conn.execute(statement)


def test_a_database_migrated_only_by_the_bot_is_ok_and_the_second_check_replays_nothing(
    every_kind: EveryKind, tmp_path: Path
) -> None:
    handle = handle_for(every_kind.database, tmp_path, script_location=every_kind.project)
    cache = ReplayCache(tmp_path / "cache")
    first = measure_drift(handle, every_kind.state, cache=cache, fresh=True)
    assert first.state is DriftState.OK, first.lines
    assert not first.cached and first.timings["alembic_s"] > 0
    assert first.summary() == "OK: the schema matches the history at k2"
    second = measure_drift(handle, every_kind.state, cache=cache)
    assert second.state is DriftState.OK and second.cached
    assert second.timings["alembic_s"] == 0
    # what env.py is handed is part of the history's key: another environment replays
    handed = handle_for(
        every_kind.database,
        tmp_path,
        script_location=every_kind.project,
        extra='child_env = {APP_ENV = "migrations"}',
    )
    third = measure_drift(handed, every_kind.state, cache=cache)
    assert third.state is DriftState.OK and not third.cached


@pytest.mark.parametrize("change", HAND_CHANGES, ids=[c.name for c in HAND_CHANGES])
def test_a_change_by_hand_is_drift_with_its_line_and_the_ddl_puts_it_back(
    change: HandChange, every_kind: EveryKind
) -> None:
    assert every_kind.drift().state is DriftState.OK, "an earlier case left drift behind"
    by_hand(every_kind.database, change.sql)
    report = every_kind.drift()
    assert report.state is DriftState.DRIFTED
    assert change.line in report.lines, report.lines
    by_hand(every_kind.database, [s for s in report.ddl if not s.startswith("--")])
    after = every_kind.drift()
    assert after.state is DriftState.OK, (report.ddl, after.lines)


def test_drift_ignore_leaves_out_what_the_target_names(every_kind: EveryKind) -> None:
    by_hand(
        every_kind.database,
        (
            "CREATE TABLE tmp_import (id int PRIMARY KEY)",
            "CREATE SCHEMA reporting",
            "CREATE TABLE reporting.daily (day date)",
            "CREATE INDEX ix_jobs_title ON jobs (title)",
        ),
    )
    ignoring = 'drift_ignore = ["tmp_*", "reporting", "reporting.*"]'
    report = every_kind.drift(ignoring)
    assert report.lines == ["index `ix_jobs_title` exists in the database but not in the history"]
    ignoring = 'drift_ignore = ["tmp_*", "reporting", "reporting.*", "public.jobs"]'
    assert every_kind.drift(ignoring).state is DriftState.OK


def test_a_history_that_does_not_replay_is_unknown_naming_the_revision(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    """The table the first revision alters was made by hand before the project existed."""
    project = write_project(
        tmp_path / "legacy",
        [Rev(id="adopt", up_sql=("ALTER TABLE legacy ADD COLUMN note text",))],
    )
    by_hand(
        fresh_db,
        (
            "CREATE TABLE legacy (id int, note text)",
            "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
            "INSERT INTO alembic_version VALUES ('adopt')",
        ),
    )
    handle = handle_for(fresh_db, tmp_path, script_location=project)
    state = AlembicRunner.for_target(handle).inspect()
    report = measure_drift(handle, state, cache=ReplayCache(None))
    assert report.state is DriftState.UNKNOWN
    assert "adopt" in str(report.error) and "legacy" in str(report.error)
    assert report.summary().startswith("not checked: the history does not replay")
