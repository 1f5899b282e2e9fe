"""The Alembic runner against a real PostgreSQL: bundled project, branches, other projects."""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from pathlib import Path

import pytest

from commands.config.alembic_project import AlembicProject
from commands.config.targets_file import BUNDLED_MIGRATIONS
from commands.errors import AlembicError
from commands.migration.planning import offline_preview
from commands.migration.runtime.runner import AlembicRunner, AlembicStopped
from commands.migration.script.revision_graph import Direction
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.alembic_projects import Rev, table, write_project

FIXTURES = Path(__file__).parent / "fixtures"


def bundled(database: DatabaseUrl) -> AlembicRunner:
    project = AlembicProject(
        config_file=None, script_location=BUNDLED_MIGRATIONS, python=sys.executable
    )
    return AlembicRunner(project, database)


def tables(database: DatabaseUrl) -> set[str]:
    with connect(database) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def offline_sql(runner: AlembicRunner, steps: tuple[str, ...]) -> dict[str, str]:
    with runner.session() as session:
        preview = offline_preview(session, session.inspect(), steps, Direction.UP)
    assert not preview.unavailable
    return dict(preview.sql)


def apply_all(runner: AlembicRunner, steps: tuple[str, ...], direction: Direction) -> list[float]:
    with runner.session() as session:
        return [session.apply(rev, direction).duration_s for rev in steps]


def test_bundled_round_trip_up_down_up(fresh_db: DatabaseUrl) -> None:
    runner = bundled(fresh_db)
    state = runner.inspect()
    graph = state.graph
    assert state.current == ()
    assert len(graph.order) >= 6

    up = graph.upgrade_path((), "head")
    durations = apply_all(runner, up, Direction.UP)
    assert all(d > 0 for d in durations)
    assert runner.current() == graph.heads
    assert {"jobs", "videos", "segments", "segment_translations"} <= tables(fresh_db)
    with connect(fresh_db) as conn:
        trigger = conn.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE '%tsv%'").fetchone()
    assert trigger == ("segments_tsv_trigger",)

    apply_all(runner, graph.downgrade_path(runner.current(), "base"), Direction.DOWN)
    assert runner.current() == ()
    assert tables(fresh_db) <= {"alembic_version"}

    apply_all(runner, graph.upgrade_path((), "head"), Direction.UP)
    assert runner.current() == graph.heads


def test_every_bundled_revision_has_a_docstring_and_real_downgrade() -> None:
    for path in sorted((BUNDLED_MIGRATIONS / "versions").glob("*.py")):
        text = path.read_text()
        assert text.startswith('"""'), path
        downgrade = text.split("def downgrade()", 1)[1]
        assert "op.execute" in downgrade, path


BRANCHED = [
    table("base_t"),
    table("left_a", ("base_t",)),
    table("left_b", ("left_a",)),
    table("right_a", ("base_t",)),
    Rev(
        id="merge_m",
        down=("left_b", "right_a"),
        up_sql=("CREATE TABLE merged (id int)",),
        down_sql=("DROP TABLE merged",),
        message="merge the branches",
    ),
    table("after_m", ("merge_m",)),
]


def test_pending_and_offline_sql_across_branch_and_merge(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    location = write_project(tmp_path / "proj", BRANCHED)
    runner = AlembicRunner(AlembicProject(None, location, sys.executable), fresh_db)
    graph = runner.graph()
    apply_all(runner, graph.upgrade_path((), "left_b"), Direction.UP)
    assert runner.current() == ("left_b",)

    pending = graph.upgrade_path(runner.current(), "head")
    assert pending == ("right_a", "merge_m", "after_m")
    sql = offline_sql(runner, pending)
    assert "CREATE TABLE right_a" in sql["right_a"]
    assert "CREATE TABLE left" not in sql["right_a"]
    # the merge's own SQL only, and the version table going from two rows to one
    assert "CREATE TABLE merged" in sql["merge_m"]
    assert "CREATE TABLE right_a" not in sql["merge_m"]
    assert "DELETE FROM alembic_version" in sql["merge_m"]
    assert "CREATE TABLE after_m" in sql["after_m"]

    apply_all(runner, pending, Direction.UP)
    assert runner.current() == ("after_m",)
    assert {"right_a", "merged", "after_m"} <= tables(fresh_db)

    undo = graph.downgrade_path(runner.current(), "left_b")
    assert undo == ("after_m", "merge_m")
    apply_all(runner, undo, Direction.DOWN)
    assert set(runner.current()) == {"left_b", "right_a"}


def test_a_revision_message_of_several_lines_is_one_line(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    """A docstring's first paragraph may wrap (Superset's do): the message every progress
    line and card shows is that paragraph on one line."""
    wrapped = Rev(id="w1", message="Add the jobs table\n    and its index,\n    for the queue")
    location = write_project(tmp_path / "proj", [wrapped])
    runner = AlembicRunner(AlembicProject(None, location, sys.executable), fresh_db)
    assert runner.graph()["w1"].message == "Add the jobs table and its index, for the queue"


def test_project_whose_env_reads_only_database_url(fresh_db: DatabaseUrl) -> None:
    project = AlembicProject(FIXTURES / "dburl_project" / "alembic.ini", None, sys.executable)
    runner = AlembicRunner(project, fresh_db)
    state = runner.inspect()
    assert state.current == ()
    steps = state.graph.upgrade_path((), "head")
    sql = offline_sql(runner, steps)
    assert "CREATE TABLE orders" in sql["a11ce0000001"]
    apply_all(runner, steps, Direction.UP)
    assert runner.current() == ("a11ce0000002",)
    assert "orders" in tables(fresh_db)


def test_failure_carries_postgres_message_and_sqlstate(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    bad = Rev(id="bad001", up_sql=("CREATE TABLE t (id int)", "INSERT INTO nowhere VALUES (1)"))
    runner = AlembicRunner(
        AlembicProject(None, write_project(tmp_path / "p", [bad]), sys.executable), fresh_db
    )
    with pytest.raises(AlembicError) as caught:
        runner.apply("bad001", Direction.UP)
    assert caught.value.sqlstate == "42P01"
    assert caught.value.revision == "bad001"
    assert 'relation "nowhere" does not exist' in str(caught.value)
    assert runner.current() == ()
    assert "t" not in tables(fresh_db)  # the revision's transaction rolled back whole


def test_an_env_py_that_exits_is_said_where_and_one_that_dies_by_its_status(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    """``sys.exit()`` in env.py (a missing setting, some projects' way) is the project's
    error at its line, in the step it was in, with what it printed before (octavia's
    reason); a child that dies without a word is named by its exit status (it used to
    read "exit status None")."""
    env = "import sys\nprint('Error: use app-db-manage')\nsys.exit(3)\n"
    exits = write_project(tmp_path / "exits", [table("orders")], env=env)
    dies = write_project(tmp_path / "dies", [table("orders")], env="import os\nos._exit(5)\n")

    with pytest.raises(
        AlembicError,
        match=r"reading the version table through env\.py \(exits/env\.py:3\): SystemExit: 3"
        r" \(the last line printed before it: Error: use app-db-manage\)",
    ):
        AlembicRunner(AlembicProject(None, exits, sys.executable), fresh_db).current()
    with pytest.raises(
        AlembicError, match="exited without answering: exit status 5, nothing written"
    ):
        AlembicRunner(AlembicProject(None, dies, sys.executable), fresh_db).current()


def test_stopping_a_revision_rolls_it_back(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    slow = Rev(id="slow01", up_sql=("CREATE TABLE half (id int)", "SELECT pg_sleep(30)"))
    runner = AlembicRunner(
        AlembicProject(None, write_project(tmp_path / "p", [slow]), sys.executable), fresh_db
    )
    cancel = threading.Event()
    threading.Timer(1.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(AlembicStopped):
        runner.apply("slow01", Direction.UP, cancel=cancel)
    assert time.monotonic() - started < 10
    with runner.session() as session, pytest.raises(AlembicStopped, match="deadline"):
        session.apply("slow01", Direction.UP, deadline=time.monotonic() + 1.5)
    assert runner.current() == ()
    assert "half" not in tables(fresh_db)


def test_password_is_masked_in_errors(tmp_path: Path, pg_server: DatabaseUrl) -> None:
    secret = "Sup3r-Secret-Pw"
    text = dataclasses.replace(pg_server.with_database("no_such_db"), password=secret).text()
    runner = bundled(DatabaseUrl.parse(text))
    with pytest.raises(AlembicError) as caught:
        runner.current()
    assert secret not in str(caught.value)
    assert "no_such_db" in str(caught.value)
