"""The targets file: valid files load, broken ones fail naming file, key and problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from commands.config.targets_file import BUNDLED_MIGRATIONS, demo_config, load_config, parse_config
from commands.errors import ConfigError, ConfigErrors, UnknownTargetError
from commands.targets import resolve_database

GOOD = f"""
[bot]
ops_channel = "C0123OPS"
state_path = "var/state.sqlite3"

[targets.prod]
database_url_env = "PROD_DATABASE_URL"
script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
approvals = 2
approvers = ["U0BOB", "@db-admins"]
backup = "s3://backups/prod"
lock_timeout = "2s"
statement_timeout = "15min"
max_duration = "1h30m"
"""


def parse(text: str, base: Path = Path("/srv/bot")) -> object:
    return parse_config(textwrap.dedent(text), source="bot.toml", base=base)


def test_a_valid_file_loads_with_typed_values() -> None:
    config = parse(GOOD)
    prod = config.target("prod")
    assert config.bot.ops_channel == "C0123OPS"
    assert config.bot.state_path == Path("/srv/bot/var/state.sqlite3")
    assert prod.approvals == 2
    assert prod.approvers == ("U0BOB", "@db-admins")
    assert (prod.lock_timeout, prod.statement_timeout, prod.max_duration) == (2, 900, 5400)
    assert prod.alembic.script_location == BUNDLED_MIGRATIONS


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("approvals = 2", "aprovals = 2"), "targets.prod.aprovals", "did you mean 'approvals'"),
        (
            ("approvals = 2", 'approvals = "two"'),
            "targets.prod.approvals",
            "must be an integer, not a string",
        ),
        (("approvals = 2", "approvals = 0"), "targets.prod.approvals", "at least 1"),
        (
            ('lock_timeout = "2s"', 'lock_timeout = "soon"'),
            "targets.prod.lock_timeout",
            "not a duration",
        ),
        (
            ('backup = "s3://backups/prod"', 'backup = "ftp://x"'),
            "targets.prod.backup",
            "file:// or s3://",
        ),
        (
            ('approvers = ["U0BOB", "@db-admins"]', "approvers = []"),
            "targets.prod.approvers",
            "at least one",
        ),
        (
            ('approvers = ["U0BOB", "@db-admins"]', 'approvers = ["bob"]'),
            "targets.prod.approvers[0]",
            "not valid",
        ),
        (
            ('database_url_env = "PROD_DATABASE_URL"', ""),
            "targets.prod.database_url_env",
            "exactly one",
        ),
        (("[targets.prod]", "[targets.Prod]"), "targets.Prod", "lowercase"),
        (("[targets.prod]", "[target.prod]"), "target", "did you mean [targets.prod]?"),
        (("[bot]", "[bots]"), "bots", "did you mean [bot]?"),
        (
            ('database_url_env = "PROD_DATABASE_URL"', 'database_url = "postgres://u:pw1@db/app"'),
            "targets.prod.database_url",
            "URLs never go in the file",
        ),
        (
            ('"PROD_DATABASE_URL"', '"postgres://u:pw1@db/app"'),
            "targets.prod.database_url_env",
            "not the URL itself",
        ),
        (
            ('backup = "s3://backups/prod"', 'backup = "var/backups"'),
            "targets.prod.backup",
            'a folder: "file://var/backups"',
        ),
        (('ops_channel = "C0123OPS"', 'ops_channel = "#ops"'), "bot.ops_channel", "not valid"),
    ],
)
def test_errors_name_file_key_and_problem(change: tuple[str, str], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(GOOD.replace(*change))
    assert caught.value.key == key
    assert str(caught.value).startswith(f"bot.toml: {key}: ")
    assert problem in str(caught.value)
    assert "pw1" not in str(caught.value)


def test_missing_alembic_project_and_bad_toml() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        parse(GOOD.replace(BUNDLED_MIGRATIONS.as_posix(), "/nowhere/migrations"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse("[targets.prod\n")
    with pytest.raises(ConfigError, match=r"^bot.toml: targets: is required$"):
        parse("[bot]\n")


def test_every_problem_of_the_file_is_reported_at_once() -> None:
    """A missing project and a typo in one target, a wrong value in another: one reading
    names all three, in the file's order, not one per fix."""
    text = GOOD.replace(BUNDLED_MIGRATIONS.as_posix(), "/nowhere/migrations")
    text = text.replace("approvals = 2", "aprovals = 2") + textwrap.dedent(
        f"""
        [targets.staging]
        database_url_env = "STAGING_DATABASE_URL"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        approvers = ["U0BOB"]
        lock_timeout = "soon"
        """
    )
    with pytest.raises(ConfigErrors) as caught:
        parse(text)
    assert [p.key for p in caught.value.problems] == [
        "targets.prod.script_location",
        "targets.prod.aprovals",
        "targets.staging.lock_timeout",
    ]
    message = str(caught.value)
    assert message.startswith("bot.toml: 3 problems:\n  targets.prod.script_location: ")
    assert "/nowhere/migrations does not exist" in message and "did you mean 'approvals'" in message


def test_unknown_target_lists_the_known_ones() -> None:
    with pytest.raises(UnknownTargetError, match=r"unknown target 'staging' \(targets: prod\)"):
        parse(GOOD).target("staging")


def test_a_url_is_shown_as_written_with_its_password_masked() -> None:
    """libpq's socket folder reads as the user wrote it, not percent-encoded."""
    from commands.postgres.database_url import DatabaseUrl

    url = DatabaseUrl.parse("postgresql://app:s3cret@/transcripts?host=/srv/app/var/postgres")
    assert url.display() == "postgresql://app:***@/transcripts?host=/srv/app/var/postgres"
    assert "s3cret" not in url.display() and "%2F" not in url.display()


def test_database_url_comes_from_the_named_variable() -> None:
    prod = parse(GOOD).target("prod")
    with pytest.raises(
        ConfigError, match=r"\$PROD_DATABASE_URL: targets.prod.database_url_env: is not set"
    ):
        resolve_database(prod, environ={})
    with pytest.raises(ConfigError, match="is not postgresql") as caught:
        resolve_database(prod, environ={"PROD_DATABASE_URL": "mysql://u:hunter22@h/db"})
    assert "hunter22" not in str(caught.value)
    url = resolve_database(prod, environ={"PROD_DATABASE_URL": "postgres://u:pw1234@db/app"})
    assert url.for_bot_sqlalchemy() == "postgresql+psycopg://u:pw1234@db/app"
    assert url.for_env_py() == "postgresql://u:pw1234@db/app"  # the child names a driver
    assert url.for_libpq() == "postgresql://u@db/app"


def test_no_file_means_the_embedded_demo(tmp_path: Path) -> None:
    config = load_config(environ={})  # ./migrate-bot.toml is absent in the repo root
    assert list(config.targets) == ["demo", "tenants"]  # the demo, and a fleet to try
    demo = demo_config(tmp_path).target("demo")
    assert demo.embedded_postgres == tmp_path / "var" / "postgres"
    assert demo.alembic.script_location == BUNDLED_MIGRATIONS
    tenants = demo_config(tmp_path).target("tenants")
    assert tenants.fleet is not None and tenants.fleet.embedded_members
    assert tenants.embedded_postgres == demo.embedded_postgres


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist \(named by \$MIGRATE_BOT_CONFIG\)"):
        load_config(environ={"MIGRATE_BOT_CONFIG": str(tmp_path / "nope.toml")})


def test_example_config_in_the_repo_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parent.parent / "migrate-bot.example.toml"
    config = load_config(environ={"MIGRATE_BOT_CONFIG": str(example)})
    assert "prod" in config.targets


def test_reference_documents_every_key() -> None:
    import dataclasses

    from commands.config.fleet import FleetSettings
    from commands.config.targets_file import BotSettings, TargetConfig

    reference = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    not_keys = ("name", "alembic", "fleet", "member_of")  # set from other keys, or derived
    fields = [f.name for f in dataclasses.fields(TargetConfig) if f.name not in not_keys]
    fields += [f.name for f in dataclasses.fields(BotSettings)]
    fields += [f.name for f in dataclasses.fields(FleetSettings)]
    fields += ["alembic_config", "script_location", "python"]
    missing = [name for name in fields if f"| `{name}` |" not in reference]
    assert not missing, f"docs/configuration.md lacks: {missing}"
