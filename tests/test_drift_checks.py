"""The drift pre-flight check and the models check of verification, on a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from commands.checks import Verdict, run_preflight, snapshot_catalog, verify_after_run
from commands.migration.planning import plan
from commands.migration.runtime.child_env import url_part
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.revision_graph import Direction
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.schema.history import ReplayError, history_schema
from commands.schema.replay_cache import ReplayCache
from tests.support.alembic_projects import Rev, write_project
from tests.support.applying import run_plan
from tests.support.checks_support import copy_database, handle_for, upgrade
from tests.support.databases import drop_database

LINE = "index `idx_videos_created_at` exists in the history but not in the database"


def test_drift_warns_by_default_and_fail_blocks_approval_with_the_reason(
    pg_server: DatabaseUrl, before_risky_db: DatabaseUrl, tmp_path: Path
) -> None:
    copy = copy_database(pg_server, before_risky_db)
    try:
        with connect(copy) as conn:
            conn.execute("DROP INDEX idx_videos_created_at")  # during an incident, by hand
        warned = run_preflight(handle_for(copy, tmp_path))
        drift = warned.result("drift")
        assert drift.verdict is Verdict.WARN and LINE in drift.details
        assert drift.data["ddl"] == [
            "CREATE INDEX idx_videos_created_at ON public.videos USING btree (created_at);"
        ]
        assert not warned.blocks
        failed = run_preflight(handle_for(copy, tmp_path, extra='drift = "fail"'))
        drift = failed.result("drift")
        assert failed.blocks and drift.verdict is Verdict.FAIL
        assert drift.summary.startswith("DRIFTED: 1 difference from the history at c9d0b2f4e165")
        assert LINE in drift.summary and "approval is blocked" in drift.summary
        off = run_preflight(handle_for(copy, tmp_path, extra='drift = "off"'))
        assert off.result("drift").verdict is Verdict.SKIP
    finally:
        drop_database(pg_server, copy)


# Dify's, mealie's and fastapi-template's way: the URL built from settings of the app's own
URL_FROM_PARTS_ENV = textwrap.dedent(
    """
    import os
    from alembic import context
    from sqlalchemy import create_engine, pool
    from sqlalchemy.engine import URL

    url = URL.create(
        "postgresql+psycopg",
        username=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"] or None,
        host=os.environ["DB_HOST"],
        port=int(os.environ["DB_PORT"]),
        database=os.environ["DB_NAME"],
    )
    with create_engine(url, poolclass=pool.NullPool).connect() as conn:
        context.configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()
    """
)
DB_PARTS = {
    "DB_HOST": "host",
    "DB_PORT": "port",
    "DB_USER": "user",
    "DB_PASSWORD": "password",
    "DB_NAME": "dbname",
}


def test_url_env_parts_hand_an_env_py_on_its_own_settings_each_database_s_url(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    """``url_env_parts`` names the settings env.py builds its URL from: the run migrates the
    target and the drift check replays the history on its scratch database (OK)."""
    jobs = Rev(id="j100", up_sql=("CREATE TABLE jobs (id int PRIMARY KEY)",))
    project = write_project(tmp_path / "project", [jobs], env=URL_FROM_PARTS_ENV)
    parts = ", ".join(f'{name} = "{part}"' for name, part in DB_PARTS.items())
    handle = handle_for(
        fresh_db, tmp_path, script_location=project, extra=f"url_env_parts = {{{parts}}}"
    )
    upgrade(handle)

    drift = run_preflight(handle).result("drift")

    assert drift.verdict is Verdict.PASS, drift.summary
    assert drift.summary == "OK: the schema matches the history at j100"


def test_url_env_parts_fill_a_text_of_the_app_s_own_with_each_database_s_url(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    """Quay's env.py reads its URL from a JSON setting (`QUAY_OVERRIDE_CONFIG`): a text
    with ``{url}`` in it is filled with each database's URL, the scratch one's included."""
    json_setting = textwrap.dedent(
        """
        import json, os
        from alembic import context
        from sqlalchemy import create_engine, pool

        url = json.loads(os.environ["APP_CONFIG"])["DB_URI"]
        with create_engine(url, poolclass=pool.NullPool).connect() as conn:
            context.configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
        """
    )
    jobs = Rev(id="j100", up_sql=("CREATE TABLE jobs (id int PRIMARY KEY)",))
    project = write_project(tmp_path / "project", [jobs], env=json_setting)
    handle = handle_for(
        fresh_db,
        tmp_path,
        script_location=project,
        extra="""url_env_parts = {APP_CONFIG = '{"DB_URI": "{url}", "DEBUG": false}'}""",
    )
    upgrade(handle)

    drift = run_preflight(handle).result("drift")

    assert drift.summary == "OK: the schema matches the history at j100", drift.summary


def test_an_env_py_on_settings_of_its_own_is_not_replayed_onto_the_target(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    """Dify's env.py builds its URL from DB_HOST, DB_PORT, …, which the bot cannot point at
    a scratch database: the replay reached the target itself, and the empty scratch
    database read as a history that creates nothing ("DRIFTED: 118 differences", and
    `DROP TABLE` for every table as the fix). It now stops before the first revision."""
    jobs = Rev(id="j100", up_sql=("CREATE TABLE jobs (id int PRIMARY KEY)",))
    project = write_project(tmp_path / "project", [jobs], env=URL_FROM_PARTS_ENV)
    pinned = ", ".join(
        f'{name} = "{url_part(fresh_db, part, fresh_db.text())}"' for name, part in DB_PARTS.items()
    )  # as a user would pin them, to the target, for want of url_env_parts
    handle = handle_for(
        fresh_db, tmp_path, script_location=project, extra=f"child_env = {{{pinned}}}"
    )
    upgrade(handle)

    drift = run_preflight(handle).result("drift")

    assert drift.verdict is Verdict.WARN and "DRIFTED" not in drift.summary, drift.summary
    assert drift.summary == (
        "not checked: the history cannot be replayed apart from the target: env.py ran none"
        " of its 1 revisions on the scratch database the bot handed it, so it connects"
        " elsewhere. Name the settings env.py reads its database from: url_env_names (a URL),"
        " url_env_parts (DB_HOST, DB_PORT, …) or url_ini_options"
    ), drift.summary
    with connect(fresh_db) as conn:  # the target untouched: still its one table and row
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("j100",)]
    # a history ahead of the target (the replay ahead of a run's plan) stops before its first
    # revision, which env.py would otherwise apply to the target itself
    with connect(fresh_db) as conn:
        conn.execute("DROP TABLE jobs; DELETE FROM alembic_version")
    ahead = dataclasses.replace(AlembicRunner.for_target(handle).inspect(), current=("j100",))
    connected = f"apart from the target: env.py connected to database '{fresh_db.database}'"
    with pytest.raises(ReplayError, match=connected):
        history_schema(handle, ahead, cache=ReplayCache(None), fresh=True)
    with connect(fresh_db) as conn:
        assert conn.execute("SELECT to_regclass('jobs')").fetchone() == (None,)


MODELS_ENV = textwrap.dedent(
    """
    import os
    from alembic import context
    from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, pool

    target_metadata = MetaData()
    Table(
        "jobs", target_metadata,
        Column("id", Integer, primary_key=True),
        Column("title", Text),
        Column("priority", Integer),
    )
    url = context.config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
    with create_engine(url, poolclass=pool.NullPool).connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    """
)


def test_verification_warns_when_the_models_differ_from_the_database(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    """The models have ``jobs.priority``; nobody wrote the revision that adds it."""
    project = write_project(
        tmp_path / "app",
        [Rev(id="jobs", up_sql=("CREATE TABLE jobs (id int PRIMARY KEY, title text)",))],
    )
    (project / "env.py").write_text(MODELS_ENV)
    handle = handle_for(fresh_db, tmp_path, script_location=project)
    planned = plan(handle, with_sql=False)
    before = snapshot_catalog(handle.database)
    upgrade(handle)
    report = verify_after_run(handle, planned, before)
    models = report.result("models")
    assert models.verdict is Verdict.WARN and not report.blocks
    assert models.summary.startswith("the application's models differ from the database: 1")
    assert models.details == ("column `jobs.priority` is in the models but not in the database",)


def test_verification_compares_the_models_only_at_head(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    """The models describe head: below it (an upgrade that stops short, a downgrade) they
    differ by design, so they are not compared there, as `alembic check` refuses to."""
    project = write_project(
        tmp_path / "app",
        [
            Rev(id="jobs", up_sql=("CREATE TABLE jobs (id int PRIMARY KEY, title text)",)),
            Rev(
                id="priority",
                down=("jobs",),
                up_sql=("ALTER TABLE jobs ADD COLUMN priority int",),
                down_sql=("ALTER TABLE jobs DROP COLUMN priority",),
            ),
        ],
    )
    (project / "env.py").write_text(MODELS_ENV)
    handle = handle_for(fresh_db, tmp_path, script_location=project)

    def models_after(direction: Direction, to: str) -> tuple[Verdict, str]:
        planned = plan(handle, direction=direction, to=to, with_sql=False)
        before = snapshot_catalog(handle.database)
        for _ in run_plan(handle, planned):
            pass
        found = verify_after_run(handle, planned, before).result("models")
        return found.verdict, found.summary

    below = "the database is below the project's head, where the models differ by design"
    verdict, summary = models_after(Direction.UP, "jobs")  # short of head
    assert verdict is Verdict.SKIP and summary.startswith(below)
    assert models_after(Direction.UP, "head") == (
        Verdict.PASS,
        "the application's models match the database",
    )
    verdict, summary = models_after(Direction.DOWN, "jobs")  # the column is gone again
    assert verdict is Verdict.SKIP and summary.startswith(below)
