"""One revision under live traffic: lock retries, blockers, the queue behind us, deadlines."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from commands.config.alembic_project import AlembicProject
from commands.migration.runtime.executor import (
    ExecutionSettings,
    RevisionCallbacks,
    RevisionEvent,
    RevisionFailedError,
    commits_part_way,
    execute_revisions,
)
from commands.migration.runtime.runner import AlembicRunner, AlembicStopped
from commands.migration.runtime.stepping import StepResult
from commands.migration.script.revision_graph import Direction
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.alembic_projects import ASYNC_ENV_PY, ENV_PY, Rev, write_project
from tests.support.lock_scenarios import SCHEDULING_SLACK_S, LockHolder, Writers

ALTER = Rev(
    id="alter1",
    up_sql=("ALTER TABLE hot ADD COLUMN c int",),
    down_sql=("ALTER TABLE hot DROP COLUMN c",),
)
LONG_LOCK = Rev(
    id="long01",
    up_sql=("LOCK TABLE hot IN ACCESS EXCLUSIVE MODE", "SELECT pg_sleep(20)"),
    down_sql=("SELECT 1",),
)


@pytest.fixture
def hot_db(fresh_db: DatabaseUrl) -> DatabaseUrl:
    with connect(fresh_db) as conn:
        conn.execute("CREATE TABLE hot (id bigserial PRIMARY KEY, v int)")
    return fresh_db


# env.py in both forms: a sync engine, and Alembic's asyncio template (asyncpg, run_sync)
ENV_PYS = pytest.mark.parametrize("env", [ENV_PY, ASYNC_ENV_PY], ids=["sync", "async"])


def runner_for(
    tmp_path: Path, database: DatabaseUrl, *revs: Rev, env: str = ENV_PY
) -> AlembicRunner:
    location = write_project(tmp_path / "project", list(revs), env)
    return AlembicRunner(AlembicProject(None, location, sys.executable), database)


def settings(**overrides: float | None) -> ExecutionSettings:
    values = {
        "lock_timeout": 0.5,
        "statement_timeout": 60.0,
        "lock_retry_budget": 4.0,
        "queue_budget": None,
        "server_major": 18,
    }
    return ExecutionSettings(**{**values, **overrides})  # type: ignore[arg-type]


def run(
    runner: AlembicRunner,
    database: DatabaseUrl,
    rev: Rev,
    events: list[RevisionEvent],
    **kw: object,
) -> StepResult:
    results: list[StepResult] = []
    with runner.session() as session:
        graph = session.graph()
        execute_revisions(
            session,
            database,
            [graph[rev.id]],
            Direction.UP,
            label="M-1",
            callbacks=RevisionCallbacks(
                start=lambda revision, round_: None,
                done=lambda revision, result, round_: results.append(result),
                event=events.append,
            ),
            **kw,  # type: ignore[arg-type]
        )
    return results[-1]


def test_blocked_revision_retries_then_fails_without_stalling_writers(
    tmp_path: Path, hot_db: DatabaseUrl
) -> None:
    runner = runner_for(tmp_path, hot_db, ALTER)
    events: list[RevisionEvent] = []
    holder = LockHolder(hot_db, "hot")
    try:
        with Writers(hot_db, "hot") as writers:
            time.sleep(0.3)
            with pytest.raises(RevisionFailedError) as caught:
                # eight seconds of attempts: the lock monitor samples every 0.2 s, and at
                # load 18 it named no blocker within four (a clean clone's suite, once)
                run(runner, hot_db, ALTER, events, settings=settings(lock_retry_budget=8.0))
    finally:
        holder.release()
    assert caught.value.sqlstate == "55P03"
    assert caught.value.attempts >= 3
    assert "lock retry budget spent" in str(caught.value)
    assert [e.kind for e in events].count("attempt") == caught.value.attempts
    assert any(e.kind == "retrying" for e in events)
    blocked = [e for e in events if e.kind == "blocked" and e.data["blockers"]]
    assert blocked and f"pid {holder.pid}, idle in transaction" in blocked[0].message
    assert "SELECT count(*) FROM hot" in blocked[0].message
    # writers queue behind the waiting ALTER for at most one attempt's lock_timeout
    assert len(writers.latencies) > 20
    assert writers.worst <= 0.5 + SCHEDULING_SLACK_S, f"a writer stalled {writers.worst:.2f}s"
    with connect(hot_db) as conn:
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,)


@ENV_PYS
def test_retry_succeeds_once_the_blocker_goes(
    tmp_path: Path, hot_db: DatabaseUrl, env: str
) -> None:
    """Sync or async (asyncpg, which reads no PGOPTIONS: its lock wait is set on its
    connection), the first attempt gives up its lock wait, the monitor sees the blocker
    on the migration's backend, the retry succeeds."""
    runner = runner_for(tmp_path, hot_db, ALTER, env=env)
    if env == ASYNC_ENV_PY:
        with runner.session() as session:
            handed = session.inspect().handed
        assert handed is not None and handed.driver == "asyncpg", handed
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
    assert sum(e.kind == "attempt" for e in events) >= 2
    blocked = next(e for e in events if e.kind == "blocked" and e.data["blockers"])
    assert f"pid {holder.pid}" in blocked.message
    assert runner.current() == ("alter1",)


@ENV_PYS
def test_queue_behind_a_long_lock_is_drained_by_cancelling(
    tmp_path: Path, hot_db: DatabaseUrl, env: str
) -> None:
    runner = runner_for(tmp_path, hot_db, LONG_LOCK, env=env)
    events: list[RevisionEvent] = []
    with Writers(hot_db, "hot") as writers, pytest.raises(RevisionFailedError) as caught:
        run(
            runner,
            hot_db,
            LONG_LOCK,
            events,
            settings=settings(queue_budget=0.7, lock_retry_budget=2.0),
        )
    assert caught.value.sqlstate == "57014"
    cancelled = [e for e in events if e.kind == "queue_cancelled"]
    assert cancelled and "behind the migration" in cancelled[0].message
    assert writers.worst < 0.7 + SCHEDULING_SLACK_S, f"a writer stalled {writers.worst:.2f}s"


def test_statement_timeout_is_not_retried(tmp_path: Path, hot_db: DatabaseUrl) -> None:
    runner = runner_for(tmp_path, hot_db, LONG_LOCK)
    events: list[RevisionEvent] = []
    with pytest.raises(RevisionFailedError) as caught:
        run(runner, hot_db, LONG_LOCK, events, settings=settings(statement_timeout=0.5))
    assert caught.value.sqlstate == "57014" and caught.value.attempts == 1
    assert "statement timeout" in str(caught.value)


@ENV_PYS
def test_deadline_stops_the_revision_and_rolls_it_back(
    tmp_path: Path, hot_db: DatabaseUrl, env: str
) -> None:
    runner = runner_for(tmp_path, hot_db, LONG_LOCK, env=env)
    started = time.monotonic()
    with pytest.raises(AlembicStopped):
        run(runner, hot_db, LONG_LOCK, [], settings=settings(), deadline=time.monotonic() + 1.5)
    assert time.monotonic() - started < 10
    assert runner.current() == ()


def test_autocommit_revisions_are_checked_before_a_retry(
    tmp_path: Path, hot_db: DatabaseUrl
) -> None:
    concurrent = Rev(
        id="conc01",
        body=(
            "\n\ndef upgrade():\n"
            "    with op.get_context().autocommit_block():\n"
            "        op.execute('ALTER TABLE hot ADD COLUMN d int')\n\n\n"
            "def downgrade():\n    pass\n"
        ),
    )
    runner = runner_for(tmp_path, hot_db, concurrent)
    holder = LockHolder(hot_db, "hot")
    asked: list[str] = []

    def guard(revision):  # what a real guard (partial-application check) would say
        asked.append(revision.id)
        return "column hot.d already exists"

    try:
        with pytest.raises(RevisionFailedError, match=r"not retried: column hot\.d already exists"):
            run(runner, hot_db, concurrent, [], settings=settings(), retry_guard=guard)
    finally:
        holder.release()
    assert asked == ["conc01"]
    graph = runner.graph()
    assert commits_part_way(graph["conc01"])


def test_plain_revisions_do_not_commit_part_way(tmp_path: Path, hot_db: DatabaseUrl) -> None:
    assert not commits_part_way(runner_for(tmp_path, hot_db, ALTER).graph()["alter1"])
