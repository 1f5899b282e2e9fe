"""One database URL, rendered for each consumer.

Users write any SQLAlchemy PostgreSQL URL: ``postgresql://``, ``postgres://``,
``postgresql+psycopg://``, ``+psycopg2``, ``+asyncpg``, ``+psycopg_async``,
``+pg8000``…, possibly with libpq's ``?host=/socket/dir`` and other options.
The project's env.py gets it with an explicit driver (``for_env_py``); the
bot's own connections, pg_dump and psql the libpq form (``for_libpq``,
``for_bot_sqlalchemy``), whatever driver the user wrote. The password never
goes on a command line: libpq tools get it as ``PGPASSWORD``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from audit.redact import redactor
from commands.postgres.drivers import (
    DRIVER_MODULES,
    UnsupportedOption,
    convert_query,
)

_SCHEMES = {"postgresql", "postgres"}
BOT_DRIVER = "psycopg"  # the bot's own SQLAlchemy engines (its shared state)


class InvalidDatabaseUrl(ValueError):
    """The text is not a PostgreSQL URL this tool can use."""


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed PostgreSQL URL; its password is remembered by the redactor."""

    url: URL

    @classmethod
    def parse(cls, text: str) -> DatabaseUrl:
        """Parse and validate; raises ``InvalidDatabaseUrl`` without echoing the URL."""
        try:
            url = make_url(text.strip())
        except ArgumentError:
            raise InvalidDatabaseUrl("not a URL of the form postgresql://user@host/db") from None
        backend, _, driver = url.drivername.partition("+")
        if backend not in _SCHEMES:
            raise InvalidDatabaseUrl(f"scheme {backend!r} is not postgresql://")
        if driver and driver not in DRIVER_MODULES:
            raise InvalidDatabaseUrl(
                f"driver {driver!r} is not one of SQLAlchemy's PostgreSQL drivers"
                f" ({', '.join(DRIVER_MODULES)})"
            )
        if not url.database:
            raise InvalidDatabaseUrl("the URL names no database")
        if "password" in url.query:  # libpq's ?password=: kept where passwords are kept
            password = url.query["password"]
            url = url.difference_update_query(["password"]).set(
                password=password if isinstance(password, str) else password[0]
            )
        redactor.remember(url.password)
        parsed = cls(url.set(drivername=f"postgresql+{driver}" if driver else "postgresql"))
        try:
            parsed.for_libpq()
        except UnsupportedOption as exc:
            raise InvalidDatabaseUrl(str(exc)) from None
        return parsed

    @property
    def database(self) -> str:
        return str(self.url.database)

    @property
    def password(self) -> str | None:
        return self.url.password

    @property
    def driver(self) -> str | None:
        """The driver the user wrote (``asyncpg`` of ``postgresql+asyncpg://``), else None."""
        return self.url.drivername.partition("+")[2] or None

    def for_driver(self, driver: str | None) -> DatabaseUrl:
        """The same database for ``driver`` (None: libpq's form), its options translated;
        raises ``InvalidDatabaseUrl`` naming an option the driver cannot take."""
        try:
            query = convert_query(self.url.query, self.driver, driver)
        except UnsupportedOption as exc:
            raise InvalidDatabaseUrl(
                f"{exc}: write the URL in {driver}'s words, or set another driver"
            ) from None
        name = f"postgresql+{driver}" if driver else "postgresql"
        return DatabaseUrl(self.url.set(drivername=name, query=query))

    def for_env_py(self, driver: str | None = None) -> str:
        """What env.py gets, with the password: for ``driver`` (the target's key) when
        given, else as the user wrote it. A URL that names no driver is handed over
        bare, in libpq's words: the child names one its interpreter has."""
        url = self.for_driver(driver) if driver and driver != self.driver else self
        return url.url.render_as_string(hide_password=False)

    def for_bot_sqlalchemy(self) -> str:
        """``postgresql+psycopg://`` with the password: the bot's own SQLAlchemy engines."""
        return self.for_driver(BOT_DRIVER).url.render_as_string(hide_password=False)

    def for_libpq(self) -> str:
        """``postgresql://user@host/db?…`` without password, for psycopg, pg_dump and psql."""
        url = self.for_driver(None).url._replace(password=None)
        return url.render_as_string(hide_password=False)

    def libpq_env(self) -> dict[str, str]:
        """Environment that hands the password to a libpq program (empty if none)."""
        return {"PGPASSWORD": self.password} if self.password else {}

    def with_database(self, name: str) -> DatabaseUrl:
        """The same server and credentials, another database (scratch copies, tests)."""
        return DatabaseUrl(self.url.set(database=name))

    def display(self) -> str:
        """Safe to show: the password masked, the query as written (``?host=/run/pg``,
        not SQLAlchemy's ``%2Frun%2Fpg``)."""
        text = self.url.render_as_string(hide_password=True)
        base, mark, query = text.partition("?")
        return base + mark + unquote(query)
