"""An async env.py (asyncpg, ``run_sync``) stepped like a sync one: the revision's lock
waits, lock retries, the lock monitor on asyncpg's backend, a deadline's stop."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from commands.config.alembic_project import AlembicProject
from commands.migration.runtime.executor import RevisionEvent, RevisionFailedError
from commands.migration.runtime.runner import AlembicRunner, AlembicStopped
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.alembic_projects import ASYNC_ENV_PY, write_project
from tests.support.lock_scenarios import SCHEDULING_SLACK_S, LockHolder, Writers
from tests.test_revision_executor import ALTER, LONG_LOCK, run, settings


@pytest.fixture
def hot_db(fresh_db: DatabaseUrl) -> DatabaseUrl:
    with connect(fresh_db) as conn:
        conn.execute("CREATE TABLE hot (id bigserial PRIMARY KEY, v int)")
    return fresh_db


def async_runner(tmp_path: Path, database: DatabaseUrl, *revs: object) -> AlembicRunner:
    location = write_project(tmp_path / "project", list(revs), env=ASYNC_ENV_PY)  # type: ignore[arg-type]
    return AlembicRunner(AlembicProject(None, location, sys.executable), database, "app")


def test_an_async_env_py_gets_asyncpg_and_is_retried_once_the_blocker_goes(
    tmp_path: Path, hot_db: DatabaseUrl
) -> None:
    runner = async_runner(tmp_path, hot_db, ALTER)
    with runner.session() as session:
        handed = session.inspect().handed
    assert handed is not None and handed.driver == "asyncpg"
    assert handed.url is not None and handed.url.startswith("postgresql+asyncpg://")
    holder = LockHolder(hot_db, "hot")

    class ReleaseWhenSeen(list):  # the blocker goes once seen, before the next attempt
        def append(self, event: RevisionEvent) -> None:
            super().append(event)
            seen = any(e.kind == "blocked" and e.data["blockers"] for e in self)
            if event.kind == "attempt" and seen:
                holder.release()

    events = ReleaseWhenSeen()
    result = run(runner, hot_db, ALTER, events, settings=settings(lock_retry_budget=20.0))
    assert result.revision == "alter1"
    assert sum(e.kind == "attempt" for e in events) >= 2  # the first gave up its lock wait
    blocked = next(e for e in events if e.kind == "blocked" and e.data["blockers"])
    assert f"pid {holder.pid}" in blocked.message  # the monitor watched asyncpg's backend
    assert runner.current() == ("alter1",)


def test_the_queue_behind_an_asyncpg_migration_is_drained(
    tmp_path: Path, hot_db: DatabaseUrl
) -> None:
    runner = async_runner(tmp_path, hot_db, LONG_LOCK)
    events: list[RevisionEvent] = []
    with Writers(hot_db, "hot") as writers, pytest.raises(RevisionFailedError) as caught:
        run(
            runner,
            hot_db,
            LONG_LOCK,
            events,
            settings=settings(queue_budget=0.7, lock_retry_budget=2.0),
        )
    assert caught.value.sqlstate == "57014"  # asyncpg's error, its SQLSTATE found
    assert any(e.kind == "queue_cancelled" for e in events)
    assert writers.worst < 0.7 + SCHEDULING_SLACK_S, f"a writer stalled {writers.worst:.2f}s"


def test_a_deadline_stops_an_asyncpg_revision_and_rolls_it_back(
    tmp_path: Path, hot_db: DatabaseUrl
) -> None:
    runner = async_runner(tmp_path, hot_db, LONG_LOCK)
    started = time.monotonic()
    with pytest.raises(AlembicStopped):
        run(runner, hot_db, LONG_LOCK, [], settings=settings(), deadline=time.monotonic() + 3)
    assert time.monotonic() - started < 15
    assert runner.current() == ()
    with connect(hot_db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = 'hot'::regclass"
        ).fetchone() == (0,)
