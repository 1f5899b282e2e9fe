"""Every SQLAlchemy PostgreSQL URL form: what env.py, the bot's own connections and pg_dump
each get, the options in each driver's words, and which driver a bare URL is given."""

from __future__ import annotations

import re

import pytest

from commands.postgres.database_url import DatabaseUrl, InvalidDatabaseUrl
from commands.postgres.drivers import choose, convert_query, scheme_driver

SOCKET = "postgresql://app:s3cret-pw@/shop?host=/run/postgresql"


@pytest.mark.parametrize(
    ("written", "env_py", "libpq"),
    [
        ("postgres://app:pw@db:5433/shop", "postgresql://app:pw@db:5433/shop", None),
        (
            "postgresql+psycopg2://app:pw@db/shop?sslmode=require",
            "postgresql+psycopg2://app:pw@db/shop?sslmode=require",
            "postgresql://app@db/shop?sslmode=require",
        ),
        (
            "postgresql+asyncpg://app:pw@db/shop?ssl=require&prepared_statement_cache_size=0",
            "postgresql+asyncpg://app:pw@db/shop?ssl=require&prepared_statement_cache_size=0",
            "postgresql://app@db/shop?sslmode=require",
        ),
        (
            "postgresql+psycopg_async://app:pw@db/shop",
            "postgresql+psycopg_async://app:pw@db/shop",
            "postgresql://app@db/shop",
        ),
        (
            "postgresql+pg8000://app:pw@/shop?unix_sock=/run/postgresql/.s.PGSQL.5433",
            "postgresql+pg8000://app:pw@/shop?unix_sock=/run/postgresql/.s.PGSQL.5433",
            "postgresql://app@/shop?host=%2Frun%2Fpostgresql&port=5433",
        ),
    ],
)
def test_each_form_as_env_py_and_libpq_get_it(written: str, env_py: str, libpq: str | None) -> None:
    url = DatabaseUrl.parse(written)
    assert url.for_env_py() == env_py
    assert url.for_libpq() == (libpq or "postgresql://app@db:5433/shop")
    assert url.for_bot_sqlalchemy().startswith("postgresql+psycopg://app:pw@")
    assert "pw" not in url.display()


def test_a_bare_url_is_handed_bare_and_the_driver_key_rewrites_its_options() -> None:
    url = DatabaseUrl.parse(SOCKET + "&sslmode=require&connect_timeout=5")
    assert url.driver is None
    assert url.for_env_py().startswith("postgresql://")  # the child names a driver
    assert url.for_env_py("asyncpg") == (
        "postgresql+asyncpg://app:s3cret-pw@/shop?host=/run/postgresql&ssl=require&timeout=5"
    )
    with pytest.raises(InvalidDatabaseUrl, match="'sslmode' has no pg8000 equivalent"):
        url.for_env_py("pg8000")  # pg8000 takes TLS as an SSL context, not in a URL
    plain = DatabaseUrl.parse(SOCKET + "&connect_timeout=5")
    assert plain.for_env_py("pg8000").endswith("?timeout=5&unix_sock=/run/postgresql/.s.PGSQL.5432")


def test_an_option_a_driver_cannot_take_is_named_never_its_value() -> None:
    url = DatabaseUrl.parse("postgresql://app:pw@db/shop?options=-csearch_path%3Dsecret_schema")
    with pytest.raises(InvalidDatabaseUrl, match="the URL's option 'options' has no asyncpg") as e:
        url.for_env_py("asyncpg")
    assert "secret_schema" not in str(e.value)


def test_unknown_drivers_and_a_password_in_the_query() -> None:
    with pytest.raises(InvalidDatabaseUrl, match="driver 'mysqldb' is not one of SQLAlchemy's"):
        DatabaseUrl.parse("postgresql+mysqldb://app:pw@db/shop")
    url = DatabaseUrl.parse("postgresql://app@db/shop?password=hunter22&sslmode=disable")
    assert url.password == "hunter22"
    assert "hunter22" not in url.for_libpq() and "hunter22" not in url.display()
    assert url.libpq_env() == {"PGPASSWORD": "hunter22"}


def test_the_driver_a_url_names() -> None:
    assert scheme_driver("postgresql+asyncpg://a@b/c") == "asyncpg"
    assert scheme_driver("postgres://a@b/c") is None


@pytest.mark.parametrize(
    ("installed", "default", "is_async", "chosen"),
    [
        (["psycopg", "psycopg2"], "psycopg", False, "psycopg"),  # SQLAlchemy 2.1
        (["psycopg", "psycopg2"], "psycopg2", False, "psycopg2"),  # SQLAlchemy 2.0
        (["psycopg2"], "psycopg", False, "psycopg2"),  # 2.1 with psycopg2 alone
        (["psycopg2", "asyncpg"], "psycopg", True, "asyncpg"),  # an async env.py
        (["psycopg2", "psycopg"], "psycopg2", True, "psycopg"),
        (["asyncpg"], "psycopg", False, "asyncpg"),
        ([], "psycopg", False, None),
    ],
)
def test_the_driver_a_bare_url_gets(
    installed: list[str], default: str, is_async: bool, chosen: str | None
) -> None:
    assert choose(installed, default, is_async)[0] == chosen


def test_options_towards_libpq_drop_what_only_a_driver_knows() -> None:
    query = {"ssl": "true", "command_timeout": "60", "timeout": "3"}
    assert convert_query(query, "asyncpg", None) == {"sslmode": "require", "connect_timeout": "3"}


@pytest.mark.parametrize(
    "written",
    [
        "postgresql://u:p%40ss@db.example:5433/app?sslmode=require&application_name=x",
        "postgres://user@/app?host=/tmp/a&host=/tmp/b",
        "postgresql+asyncpg://a:b@[::1]:5432/d%20b?ssl=require",
        "postgresql+psycopg2://us%3Aer:p+w@host/app",
        "postgresql://u:p:w@h/app?sslmode=",
        "postgresql+psycopg_async://u:%2F%3F@h/app/with/slash",
    ],
)
def test_sqlalchemy_reads_back_what_was_parsed_without_it(written: str) -> None:
    """The bot parses and writes URLs itself (importing SQLAlchemy cost every command
    0.17 s); env.py's SQLAlchemy must read each form back as SQLAlchemy reads the original."""
    from sqlalchemy.engine import make_url

    original = make_url(written.strip())
    for driver in (None, "psycopg", "asyncpg"):
        back = make_url(DatabaseUrl.parse(written).for_env_py(driver))
        assert (back.username, back.password, back.host, back.port, back.database) == (
            original.username,
            original.password,
            original.host,
            original.port,
            original.database,
        )
    url = DatabaseUrl.parse(written)
    driver = original.drivername.partition("+")[2]
    as_written = original.set(drivername=f"postgresql+{driver}" if driver else "postgresql")
    assert url.for_env_py() == re.sub("^postgres://", "postgresql://", written.strip())
    assert repr(url) == f"DatabaseUrl({as_written.render_as_string(hide_password=True)})".replace(
        "%2F", "/"
    )


def test_a_port_that_is_not_a_number_is_named() -> None:
    with pytest.raises(InvalidDatabaseUrl, match="port is not a number"):
        DatabaseUrl.parse("postgresql://u@h:5x32/app")


@pytest.mark.parametrize(
    "written",
    [
        "postgresql+asyncpg://postgres@/app?host=/tmp&port=54381",
        "postgresql+asyncpg://postgres:pa!ss@127.0.0.1:54381/app",
        "postgresql://app:s3cret-pw@/shop?host=/run/postgresql&sslmode=require",
    ],
)
def test_env_py_can_set_the_url_it_is_handed_as_an_ini_option(written: str) -> None:
    """An env.py that does ``config.set_main_option("sqlalchemy.url", <its variable>)``
    (Argilla's) failed on the '%' of the bot's rewriting ('%2Ftmp', 'pa%21ss') where plain
    Alembic, handed the user's text, ran: the user's text, the scratch copies of the drift
    check, and the options translated for another driver stay free of '%'."""
    from alembic.config import Config
    from sqlalchemy.engine import make_url

    url = DatabaseUrl.parse(written)
    for handed in (
        url.for_env_py(),
        url.for_env_py("psycopg"),
        url.for_env_py("asyncpg"),
        url.with_database("app_drift_1").for_env_py(),
    ):
        assert "%" not in handed, handed
        config = Config()
        config.set_main_option("sqlalchemy.url", handed)
        back = make_url(config.get_main_option("sqlalchemy.url") or "")
        assert (back.password, back.query.get("host")) == (
            url.password,
            dict(url.query).get("host"),
        )
    assert url.for_env_py() == written
