"""The shared state: one PostgreSQL database for every front and worker process.

``shared_state(location)`` opens it once per process (``None`` for the
embedded SQLite default): the bot's schema brought to its newest revision
(``commands.state.schema.upgrade``), then a pool of connections whose ``search_path``
starts with that schema, used by the audit log, the outbox and the seen-ids
table alike. The URL is read from the environment variable the config names
and never printed whole: errors name the variable, or show the URL with its
password masked.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import psycopg
import psycopg_pool

from commands.errors import ConfigError, DatabaseUnavailableError
from commands.postgres.database_url import DatabaseUrl, InvalidDatabaseUrl
from commands.state.location import StateLocation
from commands.state.schema import SCHEMA, SEARCH_PATH

APPLICATION_NAME = "migrate-bot-state"
POOL_SIZE = 12  # the Slack front's listeners, a worker's jobs and its notifier, at once
STATE_URL_KEY = "bot.state_url_env"


class SharedState:
    """The shared PostgreSQL of one process: its URL, schema and connection pool."""

    def __init__(self, url: DatabaseUrl, *, pool_size: int = POOL_SIZE) -> None:
        from commands.state.schema.upgrade import upgrade_schema  # Alembic: only when shared

        upgrade_schema(url)
        self.url = url
        self.schema = SCHEMA
        self.pool = psycopg_pool.ConnectionPool(
            url.for_libpq(),
            kwargs=self.connection_kwargs(),
            min_size=1,
            max_size=pool_size,
            name="migrate-bot-state",
            check=psycopg_pool.ConnectionPool.check_connection,
            open=True,
        )

    def connection_kwargs(self) -> dict[str, object]:
        password = {"password": self.url.password} if self.url.password else {}
        return {
            "autocommit": True,
            "options": SEARCH_PATH,
            "application_name": f"{APPLICATION_NAME} {os.getpid()}",  # whose, in pg_stat_activity
            "connect_timeout": 10,
            **password,
        }

    def connect(self, application_name: str | None = None) -> psycopg.Connection:
        """A connection of its own (an advisory lock's, a ``LISTEN``'s), outside the pool,
        named ``application_name`` in ``pg_stat_activity``; raises ``DatabaseUnavailableError``."""
        kwargs: dict[str, Any] = dict(self.connection_kwargs())
        if application_name is not None:
            kwargs["application_name"] = application_name
        try:
            return psycopg.connect(self.url.for_libpq(), **kwargs)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(
                f"cannot reach the shared state at {self.url.display()}: {exc}"
            ) from None

    def close(self) -> None:
        self.pool.close()


_OPEN: dict[str, SharedState] = {}
_OPENING = threading.Lock()


def state_url(location: StateLocation, environ: Mapping[str, str] = os.environ) -> DatabaseUrl:
    """The shared state's URL from ``$state_url_env``; raises ``ConfigError`` naming the key."""
    assert location.url_env is not None
    variable = location.url_env
    value = environ.get(variable)
    if not value:
        raise ConfigError(f"${variable}", STATE_URL_KEY, "is not set in the environment")
    try:
        return DatabaseUrl.parse(value)
    except InvalidDatabaseUrl as exc:
        raise ConfigError(f"${variable}", STATE_URL_KEY, str(exc)) from None


def shared_state(
    location: StateLocation, environ: Mapping[str, str] = os.environ
) -> SharedState | None:
    """This process's shared state for ``location`` (opened on first use), or ``None``
    when the state is the SQLite file."""
    if not location.shared:
        return None
    url = state_url(location, environ)
    key = url.for_bot_sqlalchemy()
    with _OPENING:
        if key not in _OPEN:
            _OPEN[key] = SharedState(url)
        return _OPEN[key]


def close_shared_states() -> None:
    """Close every shared state this process opened (at exit, and between tests)."""
    with _OPENING:
        for state in _OPEN.values():
            state.close()
        _OPEN.clear()
