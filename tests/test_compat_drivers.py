"""Compatibility suite, part 4: drivers and async env.py (tests/compat/README.md).

Each project runs in an interpreter with SQLAlchemy 2.1 and the drivers its
pattern has, through plan, check, upgrade, downgrade -1 and downgrade base,
and must leave each step's database as plain Alembic leaves it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from commands.errors import ConfigError, ProjectError
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.drivers import __file__ as DRIVERS_SCRIPT
from tests.support.compat import compat_target
from tests.support.compat_plain import beside_plain
from tests.support.interpreters import interpreter

Only = Callable[[str], str]


@pytest.fixture(scope="module")
def only(tmp_path_factory: pytest.TempPathFactory) -> Only:
    """``only("asyncpg")``: an interpreter with Alembic, SQLAlchemy and that driver only."""
    root = tmp_path_factory.mktemp("interpreters")
    return lambda driver: str(interpreter(root / driver, driver))


def keys(python: str, extra: str = "") -> str:
    return f'alembic_config = "{{root}}/alembic.ini"\npython = "{python}"\n{extra}'


def test_each_interpreter_has_sqlalchemy_2_1_and_one_driver(only: Only) -> None:
    for driver in ("psycopg2", "psycopg", "asyncpg"):
        found = subprocess.run(
            [only(driver), DRIVERS_SCRIPT], capture_output=True, text=True, check=True
        )
        described = json.loads(found.stdout)
        assert described["installed"] == [driver]
        assert described["sqlalchemy"].startswith("2.1."), described


@pytest.mark.parametrize(
    "driver",
    ["asyncpg", pytest.param("psycopg", marks=pytest.mark.slow)],  # one async driver in CI
)
def test_alembics_async_template_with_one_async_driver(
    tmp_path: Path, fresh_db: DatabaseUrl, pg_server: DatabaseUrl, only: Only, driver: str
) -> None:
    python = only(driver)
    target = compat_target("async_template", tmp_path, fresh_db, keys(python))
    handed = target.check().result("alembic").data["env_py_url"]
    assert handed.startswith(f"postgresql+{driver}://") and f"{driver}: installed" in handed
    beside_plain(
        target, pg_server, python=python, revisions=["a100", "a200", "a300"], driver=driver
    )


def test_sqlalchemy_2_1_with_only_psycopg2_and_a_schema_from_a_variable(
    tmp_path: Path, fresh_db: DatabaseUrl, pg_server: DatabaseUrl, only: Only
) -> None:
    """A bare postgresql:// means psycopg to SQLAlchemy 2.1: env.py must be told psycopg2."""
    python = only("psycopg2")
    extra = 'child_env = {APP_SCHEMA = "shipping"}\n'
    target = compat_target("schema_from_env", tmp_path, fresh_db, keys(python, extra))
    assert target.plan().version_table == "shipping.alembic_version"
    beside_plain(
        target,
        pg_server,
        python=python,
        revisions=["c100", "c200", "c300"],
        driver="psycopg2",
        plain_env={"APP_SCHEMA": "shipping"},
        version_table="shipping.alembic_version",
    )


# Long case (the async template (asyncpg) runs in CI; this variant of it with --full).
@pytest.mark.slow
def test_an_env_py_wrapping_async_engine_that_reads_its_own_variable(
    tmp_path: Path, fresh_db: DatabaseUrl, pg_server: DatabaseUrl, only: Only
) -> None:
    """sqlalchemy.url left unset: env.py takes its own variable, makes it an asyncpg URL."""
    python = only("asyncpg")
    extra = 'url_ini_options = []\nurl_env_names = ["LEDGER_DATABASE_URL"]\n'
    target = compat_target("async_engine_wrap", tmp_path, fresh_db, keys(python, extra))
    beside_plain(
        target,
        pg_server,
        python=python,
        revisions=["b100", "b200"],
        driver=None,
        plain_env={"LEDGER_DATABASE_URL": "{url}"},
        url_in_ini=False,
    )


def test_the_driver_key_overrides_and_is_checked(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    target = compat_target(
        "async_template",
        tmp_path,
        fresh_db,
        'alembic_config = "{root}/alembic.ini"\ndriver = "psycopg"\n',
    )
    handed = target.check().result("alembic").data["env_py_url"]
    assert handed.startswith("postgresql+psycopg://"), handed
    with pytest.raises(ConfigError, match=r"driver: 'mysqldb' is not one of SQLAlchemy's"):
        compat_target(
            "async_template",
            tmp_path / "other",
            fresh_db,
            'alembic_config = "{root}/alembic.ini"\ndriver = "mysqldb"\n',
        )


def test_a_missing_driver_says_where_and_what_to_do(
    tmp_path: Path, fresh_db: DatabaseUrl, only: Only
) -> None:
    """Target, step, the line of the project's env.py, the exception and the fix."""
    python = only("asyncpg")
    extra = 'driver = "psycopg2"\n'
    target = compat_target("async_template", tmp_path, fresh_db, keys(python, extra))
    with pytest.raises(ProjectError) as caught:
        target.plan()
    text = str(caught.value)
    assert text.startswith(
        "target app, reading the version table through env.py (migrations/env.py:36):"
        " ModuleNotFoundError: No module named 'psycopg2'"
    ), text
    assert text.endswith(
        f"the URL asks for psycopg2, which is not installed in {python};"
        ' install it or set driver = "asyncpg" (asyncpg is installed there)'
    ), text
