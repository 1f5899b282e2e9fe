"""One database URL, rendered for each consumer.

Users write ``postgresql://``, ``postgres://`` or ``postgresql+psycopg://`` URLs,
possibly with libpq's ``?host=/socket/dir``. SQLAlchemy (and so Alembic) needs a
driver it has installed; pg_dump and psql need the plain libpq form. The
password never goes on a command line: libpq tools get it as ``PGPASSWORD``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from audit.redact import redactor

_SCHEMES = {"postgresql", "postgres"}
_DRIVERS = {None, "psycopg", "psycopg2"}
DEFAULT_DRIVER = "psycopg"


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
        if (driver or None) not in _DRIVERS:
            raise InvalidDatabaseUrl(f"driver {driver!r} is not psycopg or psycopg2")
        if not url.database:
            raise InvalidDatabaseUrl("the URL names no database")
        redactor.remember(url.password)
        return cls(url)

    @property
    def database(self) -> str:
        return str(self.url.database)

    @property
    def password(self) -> str | None:
        return self.url.password

    def for_sqlalchemy(self) -> str:
        """``postgresql+DRIVER://…`` with the password, for Alembic's ``sqlalchemy.url``."""
        _, _, driver = self.url.drivername.partition("+")
        url = self.url.set(drivername=f"postgresql+{driver or DEFAULT_DRIVER}")
        return url.render_as_string(hide_password=False)

    def for_libpq(self) -> str:
        """``postgresql://user@host/db?…`` without password, for psycopg, pg_dump and psql."""
        url = self.url._replace(drivername="postgresql", password=None)
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
