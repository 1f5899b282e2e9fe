"""Compatibility suite, part 3: the application around env.py (tests/compat/README.md).

Its own virtualenv, alembic_utils entities, a Flask app context, and the
environment the child gets: never the bot's secrets.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from commands.checks.framework import Verdict
from commands.errors import ConfigError, ProjectError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import RequestState
from tests.support.compat import compat_target
from tests.support.databases import create_database, drop_database


def tables(database: DatabaseUrl) -> set[str]:
    with connect(database) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows.fetchall()}


def test_target_metadata_from_the_application_in_its_own_virtualenv(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    root = tmp_path / "app_metadata"
    # the bot's packages (Alembic, SQLAlchemy, psycopg) and the application, installed
    (site / "deps.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n{root / 'src'}\n")
    keys = f'alembic_config = "{{root}}/alembic.ini"\npython = "{venv}/bin/python"\n'
    target = compat_target("app_metadata", tmp_path, fresh_db, keys)
    assert "CREATE TABLE products" in target.plan().sql["n100"]
    target.round_trip(["n100"])


def test_alembic_utils_entities(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    target = compat_target("alembic_utils_entities", tmp_path, fresh_db)
    plan = target.plan()
    assert "CREATE FUNCTION" in plan.sql["p100"] and "CREATE VIEW" in plan.sql["p200"]
    up = target.upgrade()
    assert up.state is RequestState.SUCCEEDED, up.error
    with connect(fresh_db) as conn:
        assert conn.execute("SELECT round_cents(1999)").fetchone() == (1900,)
    assert target.downgrade("base").state is RequestState.SUCCEEDED


def test_a_flask_migrate_project_in_its_app_context(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    keys = """
        alembic_config = "{root}/migrations/alembic.ini"
        script_location = "{root}/migrations"
        working_dir = "{root}"
        flask_app = "board:create_app"
        url_env_names = ["BOARD_DATABASE_URI"]
        """
    target = compat_target("flask_migrate", tmp_path, fresh_db, keys)
    plan = target.plan()
    assert "q200" in plan.unavailable  # it asks the live engine its dialect
    target.round_trip(["q100", "q200"])


FLASK_KEYS = """
    alembic_config = "{{root}}/migrations/alembic.ini"
    script_location = "{{root}}/migrations"
    working_dir = "{{root}}"
    flask_app = "board:{factory}"
    url_env_names = ["BOARD_DATABASE_URI"]
    """


def test_a_flask_app_whose_factory_fails_says_where(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    """The factory's error is the project's: target, step, its line, the exception (it
    used to kill the child, and the user read only "Alembic exited without answering")."""
    keys = FLASK_KEYS.format(factory="create_app_with_settings")
    text = compat_target("flask_migrate", tmp_path, fresh_db, keys).plan_error()
    assert text.startswith(
        "target app, creating the Flask app board:create_app_with_settings"
        " (board/__init__.py:22): KeyError: 'BOARD_SECRET_KEY'"
    ), text
    assert tables(fresh_db) == set()


def test_a_flask_app_that_migrates_itself_is_refused_before_any_revision(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    """A factory that upgrades the database when it is built (ihatemoney's) would apply
    every revision during a plan, before any lock or backup: the plan refuses, untouched."""
    keys = FLASK_KEYS.format(factory="create_app_that_migrates")
    text = compat_target("flask_migrate", tmp_path, fresh_db, keys).plan_error()
    assert text.startswith(
        "target app, creating the Flask app board:create_app_that_migrates"
        " (migrations/env.py:20): FactoryMigrates: the Flask app board:create_app_that_migrates"
        " runs Alembic's migrations itself when it is created"
    ), text
    assert "set flask_app to a factory that does not migrate" in text.lower(), text
    assert tables(fresh_db) == set()


def test_a_flask_app_that_writes_when_built_is_refused_and_one_that_reads_is_not(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    """A factory that writes when it is built (Superset's makes tables and seeds rows)
    would write during a plan, before any lock or backup: refused, nothing written. A
    factory that only reads (its settings, the server's version) builds as before."""
    keys = FLASK_KEYS.format(factory="create_app_that_writes")
    text = compat_target("flask_migrate", tmp_path / "writes", fresh_db, keys).plan_error()
    assert "creating the Flask app board:create_app_that_writes" in text, text
    assert (
        "FactoryWrites: the Flask app board:create_app_that_writes writes to the database"
        " when it is created (CREATE TABLE …)"
    ) in text, text
    assert "set flask_app to a factory that builds the app without writing" in text.lower()
    assert tables(fresh_db) == set()
    keys = FLASK_KEYS.format(factory="create_app_that_reads")
    reads = compat_target("flask_migrate", tmp_path / "reads", fresh_db, keys)
    assert reads.plan().revisions  # it plans: nothing refused


def test_the_child_never_sees_the_bots_secrets_or_other_targets_urls(
    tmp_path: Path, fresh_db: DatabaseUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "env.json"
    secrets = {
        "SLACK_BOT_TOKEN": "xoxb-secret",
        "SLACK_SIGNING_SECRET": "signing-secret",
        "SLACK_APP_TOKEN": "xapp-secret",
        "AWS_ACCESS_KEY_ID": "AKIASECRET",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "PROD_DATABASE_URL": "postgresql://prod:pw@prod.internal/app",
    }
    for name, value in {**secrets, "SENTRY_DSN": "https://sentry.invalid/1"}.items():
        monkeypatch.setenv(name, value)
    keys = f"""
        alembic_config = "{{root}}/alembic.ini"
        child_env = ["SENTRY_DSN", "ENV_REPORT={report}"]
        """
    target = compat_target("child_environment", tmp_path, fresh_db, keys)
    assert target.upgrade().state is RequestState.SUCCEEDED
    seen = json.loads(report.read_text())
    assert not set(secrets) & set(seen)
    assert not any(value in seen.values() for value in secrets.values())
    assert seen["SENTRY_DSN"] == "https://sentry.invalid/1"
    assert fresh_db.database in seen["DATABASE_URL"]
    assert {"PATH", "HOME"} <= set(seen)


def test_child_env_refuses_the_bots_secrets_and_other_targets_urls(tmp_path: Path) -> None:
    from commands.config.targets_file import parse_config

    base = """
        [targets.prod]
        database_url_env = "PROD_DATABASE_URL"
        script_location = "{loc}"
        approvers = ["U0BOB"]

        [targets.staging]
        database_url_env = "STAGING_DATABASE_URL"
        script_location = "{loc}"
        approvers = ["U0BOB"]
        child_env = [{child}]
        """
    location = Path(__file__).parent / "compat" / "projects" / "do_block" / "migrations"
    for child, problem in (
        ('"SLACK_BOT_TOKEN"', "SLACK_BOT_TOKEN is one of migrate-bot's own secrets"),
        ('"PROD_DATABASE_URL"', "PROD_DATABASE_URL holds target prod's database URL"),
    ):
        text = base.format(loc=location.as_posix(), child=child)
        with pytest.raises(ConfigError, match=problem):
            parse_config(text, source="t.toml", base=tmp_path)
    for parts, problem in (  # url_env_parts: a part of the URL under a variable of the app's
        ('{DB_HOST = "hostname"}', "'hostname' is not one of host, port, user, password, dbname,"),
        ('{SLACK_BOT_TOKEN = "password"}', "'SLACK_BOT_TOKEN' is not a variable env.py may get"),
        ('{APP_ENV = "host"}', "APP_ENV is set by url_env_parts, from the database's URL"),
    ):
        text = base.format(loc=location.as_posix(), child='"APP_ENV=x"')
        text += f"url_env_parts = {parts}\n"
        with pytest.raises(ConfigError, match=problem):
            parse_config(text, source="t.toml", base=tmp_path)


def test_env_py_connected_elsewhere_is_refused_before_anything_is_read_or_run(
    tmp_path: Path, fresh_db: DatabaseUrl, pg_server: DatabaseUrl
) -> None:
    """Another database on the server, or a SQLite file (ironic's default): its version
    table is not the target's, so no status, plan, pre-flight, backup or run takes it."""
    other = create_database(pg_server)
    own_file = tmp_path / "own.sqlite"
    try:
        for url, where in (
            (other.text(), f"database '{other.database}'"),
            (f"sqlite:///{own_file}", "a sqlite database"),
        ):
            keys = (
                'alembic_config = "{root}/alembic.ini"\n'
                f'child_env = ["APP_SETTINGS_DATABASE_URL={url}"]\n'
            )
            home = tmp_path / where.split()[1]
            home.mkdir()
            target = compat_target("elsewhere", home, fresh_db, keys)
            refused = f"env.py connected to {where}, not to {fresh_db.display()}"
            assert (
                refused in target.plan_error() and "is not this database's" in target.plan_error()
            )
            with pytest.raises(
                ProjectError, match=re.escape("url_env_names (a URL), url_env_parts")
            ):
                target.current()
            with pytest.raises(ProjectError, match=re.escape(refused)):
                target.upgrade()  # its plan is refused: no request, no backup
            report = target.check()
            assert report.verdict is Verdict.FAIL and refused in str(report.results)
            assert not (home / "backups").exists()
            assert "logs" not in tables(other) and "logs" not in tables(fresh_db)
    finally:
        drop_database(pg_server, other)
