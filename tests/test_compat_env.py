"""Compatibility suite, part 2: env.py variety, each with its target key (tests/compat/README.md).

Each project is planned, checked, upgraded and downgraded through the bot's
pipeline, the way its own env.py expects to be run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from commands.errors import ConfigError, RevisionError
from commands.migration.script.plan import Plan
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import RequestState
from tests.support.compat import CompatTarget, compat_target


def tables(database: DatabaseUrl, schema: str = "public") -> set[str]:
    with connect(database) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        return {row[0] for row in rows.fetchall()}


def round_trip(target: CompatTarget, revisions: list[str]) -> Plan:
    """Plan and check (one pre-flight), upgrade to head, downgrade to base."""
    report = target.check()
    assert report.plan is not None and not report.blocks
    assert [r.id for r in report.plan.revisions] == revisions
    up = target.upgrade()
    assert up.state is RequestState.SUCCEEDED, up.error
    assert [a.revision for a in up.applied] == revisions
    down = target.downgrade("base")
    assert down.state is RequestState.SUCCEEDED, down.error
    assert down.database_revisions == ()
    return report.plan


def test_the_url_under_the_names_env_py_reads(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    target = compat_target(
        "url_env_names",
        tmp_path,
        fresh_db,
        """
        alembic_config = "{root}/alembic.ini"
        url_env_names = ["SQLALCHEMY_DATABASE_URI", "POSTGRES_DSN"]
        child_env = {APP_ENV = "migrations"}
        """,
    )
    round_trip(target, ["d100", "d200"])  # env.py asserts both names and APP_ENV


def test_a_tenant_chosen_with_x_arguments_and_its_own_version_table(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    keys = 'alembic_config = "{root}/alembic.ini"\nx_args = ["tenant=acme"]\n'
    target = compat_target("tenant_schema", tmp_path, fresh_db, keys)
    report = target.check()
    assert report.plan is not None
    assert report.plan.version_table == "tenant_acme.revision_log"
    assert "CREATE TABLE orders" in report.plan.sql["e100"]
    assert report.result("alembic").data["version_table"] == "absent (the database is at base)"
    up = target.upgrade()
    assert up.state is RequestState.SUCCEEDED, up.error
    assert tables(fresh_db, "tenant_acme") == {"orders", "revision_log"}
    assert target.check().result("alembic").data["version_table"] == "readable"
    down = target.downgrade("e100")
    assert down.state is RequestState.SUCCEEDED, down.error
    assert down.database_revisions == ("e100",)


def test_a_named_section_of_a_multi_history_ini(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    keys = 'alembic_config = "{root}/alembic.ini"\nalembic_section = "analytics"\n'
    target = compat_target("named_section", tmp_path, fresh_db, keys)
    assert target.plan().version_table == "analytics_version"
    round_trip(target, ["g100", "g200"])
    with pytest.raises(ConfigError, match=r"alembic_section: .* has no \[billing\] section"):
        compat_target(
            "named_section",
            tmp_path / "other",
            fresh_db,
            'alembic_config = "{root}/alembic.ini"\nalembic_section = "billing"\n',
        )


def test_revisions_in_several_version_locations(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    target = compat_target("version_locations", tmp_path, fresh_db)
    plan = round_trip(target, ["h100", "h200", "h300"])
    assert plan.revisions[1].path.endswith("billing/versions/h200_invoices.py")


def test_several_heads_are_named_and_a_merge_is_walked_as_alembic_walks_it(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    target = compat_target("branches", tmp_path, fresh_db)
    up = target.upgrade("k200")  # one branch, named
    assert up.state is RequestState.SUCCEEDED, up.error
    up = target.upgrade("k300")  # the other: two heads in the version table
    assert up.state is RequestState.SUCCEEDED, up.error
    assert set(up.database_revisions or ()) == {"k200", "k300"}
    up = target.upgrade()  # the merge and after it
    assert [a.revision for a in up.applied] == ["k400", "k500"]
    with pytest.raises(RevisionError, match="-3 is ambiguous: k400 merges k200, k300"):
        target.plan("-3", down=True)
    down = target.downgrade("-2")  # down to the merge's parents: both heads again
    assert down.state is RequestState.SUCCEEDED, down.error
    assert set(down.database_revisions or ()) == {"k200", "k300"}


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
    round_trip(target, ["n100"])


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
    round_trip(target, ["q100", "q200"])


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
