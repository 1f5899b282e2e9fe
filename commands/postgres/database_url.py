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

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from audit.redact import redactor
from commands.postgres.drivers import (
    DRIVER_MODULES,
    QueryValue,
    UnsupportedOption,
    convert_query,
)

_SCHEMES = {"postgresql", "postgres"}
BOT_DRIVER = "psycopg"  # the bot's own SQLAlchemy engines (its shared state)

# SQLAlchemy's own URL grammar (``sqlalchemy.engine.url._parse_url``), so that what
# env.py's SQLAlchemy reads back is what was parsed here; importing SQLAlchemy for it
# cost every command 0.17 s before it could start anything.
_URL = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.VERBOSE,
)


class InvalidDatabaseUrl(ValueError):
    """The text is not a PostgreSQL URL this tool can use."""


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed PostgreSQL URL; its password is remembered by the redactor and never in
    its ``repr``. ``dataclasses.replace`` makes a variant (another user, password…)."""

    driver: str | None  # what the user wrote after ``+`` (``asyncpg``), else None
    username: str | None
    password: str | None = field(repr=False)
    host: str | None
    port: int | None
    database: str
    query: tuple[tuple[str, QueryValue], ...] = ()  # sorted by name, as rendered
    # the text it was parsed from: env.py gets that, not a rewriting with '%' in it
    written: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> DatabaseUrl:
        """Parse and validate; raises ``InvalidDatabaseUrl`` without echoing the URL."""
        found = _URL.match(text.strip())
        if found is None:
            raise InvalidDatabaseUrl("not a URL of the form postgresql://user@host/db")
        parts = found.groupdict()
        backend, _, driver = parts["name"].partition("+")
        if backend not in _SCHEMES:
            raise InvalidDatabaseUrl(f"scheme {backend!r} is not postgresql://")
        if driver and driver not in DRIVER_MODULES:
            raise InvalidDatabaseUrl(
                f"driver {driver!r} is not one of SQLAlchemy's PostgreSQL drivers"
                f" ({', '.join(DRIVER_MODULES)})"
            )
        if not parts["database"]:
            raise InvalidDatabaseUrl("the URL names no database")
        try:
            port = int(parts["port"]) if parts["port"] else None
        except ValueError:
            raise InvalidDatabaseUrl("the URL's port is not a number") from None
        query = _parsed_query(parts["query"] or "")
        password = _unquoted(parts["password"])
        if "password" in query:  # libpq's ?password=: kept where passwords are kept
            given = query.pop("password")
            password = given if isinstance(given, str) else given[0]
        redactor.remember(password)
        parsed = cls(
            driver=driver or None,
            username=_unquoted(parts["username"]),
            password=password,
            host=parts["ipv4host"] or parts["ipv6host"],
            port=port,
            database=unquote(parts["database"]),
            query=_sorted(query),
            written=text.strip(),
        )
        try:
            parsed.for_libpq()
        except UnsupportedOption as exc:
            raise InvalidDatabaseUrl(str(exc)) from None
        return parsed

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.display()})"

    def for_driver(self, driver: str | None) -> DatabaseUrl:
        """The same database for ``driver`` (None: libpq's form), its options translated;
        raises ``InvalidDatabaseUrl`` naming an option the driver cannot take."""
        try:
            query = convert_query(dict(self.query), self.driver, driver)
        except UnsupportedOption as exc:
            raise InvalidDatabaseUrl(
                f"{exc}: write the URL in {driver}'s words, or set another driver"
            ) from None
        return dataclasses.replace(self, driver=driver, query=_sorted(query))

    def for_env_py(self, driver: str | None = None) -> str:
        """What env.py gets, with the password: as the user wrote it, for ``driver`` (the
        target's key) when given: only the scheme changes unless an option must. A URL
        that names no driver is handed over bare: the child names one its interpreter has.

        Not SQLAlchemy's rendering: its ``%2F`` and ``%21`` break an env.py that sets the
        URL as an ini option (``set_main_option`` reads ``%`` as interpolation: Argilla's
        did, on a socket URL or a password with ``!`` that plain Alembic took)."""
        url = self.for_driver(driver) if driver and driver != self.driver else self
        written = self.written if self.written and DatabaseUrl.parse(self.written) == self else None
        if written is None or url.query != self.query:
            return url._rendered(hide_password=False, escape=_ESCAPED_ONLY_WHERE_NEEDED)
        scheme = f"postgresql+{url.driver}://" if url.driver else "postgresql://"
        return _SCHEME.sub(scheme, written, count=1)  # postgres:// is no SQLAlchemy name

    def for_bot_sqlalchemy(self) -> str:
        """``postgresql+psycopg://`` with the password: the bot's own SQLAlchemy engines."""
        return self.for_driver(BOT_DRIVER).text()

    def for_libpq(self) -> str:
        """``postgresql://user@host/db?…`` without password, for psycopg, pg_dump and psql."""
        return dataclasses.replace(self.for_driver(None), password=None).text()

    def libpq_env(self) -> dict[str, str]:
        """Environment that hands the password to a libpq program (empty if none)."""
        return {"PGPASSWORD": self.password} if self.password else {}

    def with_database(self, name: str) -> DatabaseUrl:
        """The same server and credentials, another database (scratch copies, tests)."""
        return dataclasses.replace(self, database=name)

    def display(self) -> str:
        """Safe to show: the password masked, the query as written (``?host=/run/pg``,
        not SQLAlchemy's ``%2Frun%2Fpg``)."""
        base, mark, query = self._rendered(hide_password=True).partition("?")
        return base + mark + unquote(query)

    def text(self) -> str:
        """The URL with its password, as SQLAlchemy writes it: for an environment
        variable a child reads (tests and benchmarks hand databases over this way)."""
        return self._rendered(hide_password=False)

    def _rendered(self, *, hide_password: bool, escape: _Escape | None = None) -> str:
        """SQLAlchemy's ``URL.render_as_string``, character for character; with ``escape``,
        its characters kept as they are where SQLAlchemy reads them back the same."""
        keep = escape or _SQLALCHEMY_ESCAPES
        text = f"postgresql+{self.driver}://" if self.driver else "postgresql://"
        if self.username is not None:
            text += quote(self.username, safe=keep.userinfo)
            if self.password is not None:
                text += ":" + ("***" if hide_password else quote(self.password, safe=keep.userinfo))
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        text += "/" + quote(self.database, safe=" +/")
        if self.query:
            text += "?" + "&".join(
                f"{quote_plus(name)}={quote_plus(value, safe=keep.query)}"
                for name, values in self.query
                for value in ((values,) if isinstance(values, str) else values)
            )
        return text


@dataclass(frozen=True)
class _Escape:
    """The characters left as they are in the user and password, and in query values."""

    userinfo: str
    query: str


_SQLALCHEMY_ESCAPES = _Escape(userinfo=" +", query="")
# what SQLAlchemy's grammar reads back unchanged: not '@' ':' '/' '%' in the user and
# password (they end a part or are an escape), not '&' '=' '+' '%' '#' in query values
_ESCAPED_ONLY_WHERE_NEEDED = _Escape(userinfo=" +!$'()*,;~", query="/:,!$'()*;~")
_SCHEME = re.compile(r"^[\w+]+://")


def _parsed_query(text: str) -> dict[str, QueryValue]:
    """A query string as SQLAlchemy reads it: blank values dropped, repeats a tuple."""
    query: dict[str, QueryValue] = {}
    for name, value in parse_qsl(text):
        known = query.get(name)
        if known is None:
            query[name] = value
        else:
            query[name] = (*((known,) if isinstance(known, str) else known), value)
    return query


def _sorted(query: Mapping[str, QueryValue]) -> tuple[tuple[str, QueryValue], ...]:
    return tuple(sorted(query.items()))


def _unquoted(part: str | None) -> str | None:
    return None if part is None else unquote(part)
