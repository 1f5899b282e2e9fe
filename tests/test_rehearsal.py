"""Rehearsal on a real copy (CREATE DATABASE … TEMPLATE) standing in for a restored backup."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from commands.checks import ScratchDatabase, Verdict, rehearse
from commands.demo.data import fill_demo_data
from commands.migration.planning import plan
from commands.migration.runtime.runner import AlembicRunner
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.alembic_projects import Rev, write_project
from tests.support.checks_support import (
    HEAD,
    copy_database,
    handle_for,
    upgrade,
)
from tests.support.databases import drop_database

TAKEN = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def template_copies(server: DatabaseUrl, source: DatabaseUrl, made: list[str]):
    """A scratch factory: a real copy of ``source``, dropped on exit (names kept in ``made``)."""

    @contextmanager
    def make() -> Iterator[ScratchDatabase]:
        copy = copy_database(server, source, "scratch")
        made.append(copy.database)
        try:
            yield ScratchDatabase(
                url=copy, copy_taken_at=TAKEN, source=f"copy of {source.database}"
            )
        finally:
            drop_database(server, copy)

    return make


def databases(server: DatabaseUrl) -> set[str]:
    with connect(server) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()}


def test_rehearsal_times_each_revision_on_a_copy_and_drops_it(
    pg_server: DatabaseUrl, fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    handle = handle_for(fresh_db, tmp_path)
    upgrade(handle, "7c2d4e6f8a21")
    fill_demo_data(fresh_db, rows=4000)
    planned = plan(handle)
    made: list[str] = []
    clock_now = TAKEN + timedelta(minutes=2)
    result = rehearse(
        handle,
        planned,
        make_scratch=template_copies(pg_server, fresh_db, made),
        clock=lambda: clock_now,
    )
    assert result.failure is None
    assert [s.revision for s in result.steps] == [r.id for r in planned.revisions]
    assert result.steps[-1].revision == HEAD and len(result.steps) == 6
    assert all(s.duration_s > 0 for s in result.steps)
    assert result.total_s == sum(s.duration_s for s in result.steps)
    assert re.fullmatch(
        r"6 revisions, rehearsed in [\d.]+ m?s on a copy taken 2 min ago",
        result.summary(clock_now),
    ), result.summary(clock_now)
    check = result.as_check(max_duration=handle.config.max_duration, now=clock_now)
    assert check.verdict is Verdict.PASS and len(check.details) == 6
    assert check.data["steps"][0]["revision"] == "b41e9d3a5c32"

    assert made and made[0] not in databases(pg_server)  # the copy is gone
    assert AlembicRunner.for_target(handle).current() == (
        "7c2d4e6f8a21",
    )  # the target was not touched

    tight = result.as_check(max_duration=result.total_s * 1.5, now=clock_now)
    assert tight.verdict is Verdict.WARN and "over half of max_duration" in tight.summary
    too_long = result.as_check(max_duration=result.total_s / 2, now=clock_now)
    assert too_long.verdict is Verdict.FAIL and "over max_duration" in too_long.summary


def test_a_revision_that_fails_on_the_copy_fails_the_rehearsal(
    pg_server: DatabaseUrl, fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "project",
        [
            Rev(
                id="dup1",
                up_sql=("CREATE TABLE t (v int)", "INSERT INTO t VALUES (1), (1)"),
                down_sql=("DROP TABLE t",),
            ),
            Rev(
                id="uniq1",
                down=("dup1",),
                up_sql=("CREATE UNIQUE INDEX idx_t_v ON t (v)",),
                down_sql=("DROP INDEX idx_t_v",),
            ),
        ],
    )
    handle = handle_for(fresh_db, tmp_path, script_location=project)
    upgrade(handle, "dup1")
    result = rehearse(handle, plan(handle), make_scratch=template_copies(pg_server, fresh_db, []))
    assert result.steps == () and result.failure is not None
    assert (
        result.failure.startswith("uniq1: ") and "could not create unique index" in result.failure
    )
    check = result.as_check(max_duration=60, now=TAKEN)
    assert check.verdict is Verdict.FAIL
    assert check.summary.startswith("1 revision: rehearsal failed on a copy taken")


def test_a_copy_at_another_revision_is_refused(
    pg_server: DatabaseUrl, before_risky_db: DatabaseUrl, tmp_path: Path
) -> None:
    moved = copy_database(pg_server, before_risky_db)
    try:
        handle = handle_for(moved, tmp_path)
        planned = plan(handle)
        upgrade(handle)  # the database moved on after planning; the copy is taken now
        result = rehearse(handle, planned, make_scratch=template_copies(pg_server, moved, []))
    finally:
        drop_database(pg_server, moved)
    assert result.steps == ()
    assert result.failure == f"the copy is at {HEAD}, not where the plan starts"
