"""Which PostgreSQL driver env.py gets, and a URL's options in each driver's words.

SQLAlchemy picks a driver from the URL's scheme, and a bare ``postgresql://``
means psycopg2 under SQLAlchemy 2.0 but psycopg (3) under 2.1: env.py must
get an explicit driver. The user's (the URL's, or the target's ``driver``
key) wins; else one installed in the project's interpreter that its
SQLAlchemy has a dialect for, an async one for an env.py that makes an async
engine. That is decided where the project runs, by looking, without
importing anything: the child loads this file from its path (standard library
only, like ``child.py``), ``python drivers.py ENV_PY`` prints the same
choice as JSON for ``targets`` and ``check``, and the bot imports it for the
option tables.

The options of a URL's query are libpq's for psycopg and psycopg2, but
asyncpg and pg8000 name some of them otherwise (``ssl`` for ``sslmode``) and
lack others (``options``): ``convert_query`` translates them, and refuses,
naming the option, what a driver cannot be told in a URL.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

QueryValue = str | tuple[str, ...]

# SQLAlchemy's PostgreSQL drivers (the part after "+"), and the module each imports
DRIVER_MODULES = {
    "psycopg": "psycopg",
    "psycopg_async": "psycopg",
    "psycopg2": "psycopg2",
    "psycopg2cffi": "psycopg2cffi",
    "asyncpg": "asyncpg",
    "pg8000": "pg8000",
}
_DIALECT_FILES = {"psycopg_async": "psycopg"}  # psycopg_async lives in psycopg.py
LIBPQ_DRIVERS = frozenset({"psycopg", "psycopg_async", "psycopg2", "psycopg2cffi"})
ASYNC_PREFERENCE = ("asyncpg", "psycopg")  # for an env.py that makes an async engine
SYNC_PREFERENCE = ("psycopg", "psycopg2", "psycopg2cffi", "pg8000")
ASYNC_ENGINE = re.compile(r"\b(async_engine_from_config|create_async_engine|AsyncEngine)\b")
_DEFAULT_DIALECT = re.compile(r"^base\.dialect = dialect = (\w+)\.dialect", re.MULTILINE)
_VERSION = re.compile(r"^__version__ = [\"']([^\"']+)[\"']", re.MULTILINE)

# libpq's connection keywords (PostgreSQL 17), which psycopg and psycopg2 take in a URL
LIBPQ_OPTIONS = frozenset(
    """host hostaddr port dbname user password passfile require_auth channel_binding
    connect_timeout client_encoding options application_name fallback_application_name
    keepalives keepalives_idle keepalives_interval keepalives_count tcp_user_timeout
    replication gssencmode sslmode requiressl sslnegotiation sslcompression sslcert sslkey
    sslpassword sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer
    ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation
    service target_session_attrs load_balance_hosts""".split()
)
# libpq's niceties a driver without them can go without (the connection is the same)
_DROPPABLE = frozenset(
    """application_name fallback_application_name keepalives keepalives_idle
    keepalives_interval keepalives_count tcp_user_timeout client_encoding""".split()
)
# the same setting under another name: libpq's name → the driver's
_RENAMED = {
    "asyncpg": {"sslmode": "ssl", "connect_timeout": "timeout"},
    "pg8000": {"connect_timeout": "timeout"},
}
# what each driver takes in a URL under its own name (SQLAlchemy passes the query to it)
_OWN_OPTIONS = {
    "asyncpg": frozenset(
        """host port passfile ssl timeout target_session_attrs krbsrvname gsslib direct_tls
        command_timeout statement_cache_size max_cached_statement_lifetime
        max_cacheable_statement_size prepared_statement_cache_size""".split()
    ),
    "pg8000": frozenset("host port unix_sock timeout application_name tcp_keepalive".split()),
}


class UnsupportedOption(ValueError):
    """A URL option the chosen driver cannot take (its name only: a value may be secret)."""


def scheme_driver(url: str) -> str | None:
    """The driver a URL names (``postgresql+asyncpg://`` → ``asyncpg``), else None."""
    scheme = url.partition("://")[0]
    return scheme.partition("+")[2] or None


def convert_query(
    query: Mapping[str, QueryValue], source: str | None, target: str | None
) -> dict[str, QueryValue]:
    """A URL's query options, written for ``source`` (None: libpq's words), rewritten for
    ``target`` (None: libpq's, for pg_dump, psql and the bot's own connections).

    Towards libpq, options only a driver knows are dropped (they tune the driver, not
    the connection). Towards asyncpg or pg8000, an option it has no word for raises
    ``UnsupportedOption``, except libpq's niceties (``application_name``…).
    """
    if target is None:
        return _to_libpq(query, source)
    if source == target or (source in LIBPQ_DRIVERS and target in LIBPQ_DRIVERS):
        return dict(query)  # as the user wrote it for this driver
    libpq = _to_libpq(query, source)
    if target in LIBPQ_DRIVERS:
        return libpq
    renamed = _RENAMED.get(target, {})
    own = _OWN_OPTIONS.get(target, frozenset())
    result: dict[str, QueryValue] = {}
    for name, value in libpq.items():
        name_there = renamed.get(name, name)
        if target == "asyncpg" and name == "sslmode":
            result[name_there] = value
        elif target == "pg8000" and name == "host" and _is_socket_dir(value):
            result["unix_sock"] = _socket_file(value, libpq.get("port"))
        elif target == "pg8000" and name == "sslmode" and value in ("disable", "allow", "prefer"):
            continue  # pg8000 connects without TLS unless told: the same as these
        elif name_there in own:
            result[name_there] = value
        elif name not in _DROPPABLE:
            raise UnsupportedOption(f"the URL's option {name!r} has no {target} equivalent")
    return result


def _to_libpq(query: Mapping[str, QueryValue], source: str | None) -> dict[str, QueryValue]:
    if source is None or source in LIBPQ_DRIVERS:
        return {name: value for name, value in query.items() if name in LIBPQ_OPTIONS}
    back = {there: here for here, there in _RENAMED.get(source, {}).items()}
    result: dict[str, QueryValue] = {}
    for name, value in query.items():
        if source == "asyncpg" and name == "ssl":
            result["sslmode"] = {"true": "require", "false": "disable"}.get(str(value), value)
        elif source == "pg8000" and name == "unix_sock" and isinstance(value, str):
            folder, _, socket = value.rpartition("/")
            result["host"] = folder or "/"
            if socket.startswith(".s.PGSQL."):
                result["port"] = socket.removeprefix(".s.PGSQL.")
        elif back.get(name, name) in LIBPQ_OPTIONS:
            result[back.get(name, name)] = value
    return result


def _is_socket_dir(value: QueryValue) -> bool:
    return isinstance(value, str) and value.startswith("/")


def _socket_file(folder: QueryValue, port: QueryValue | None) -> str:
    return f"{str(folder).rstrip('/')}/.s.PGSQL.{port or 5432}"


def _sqlalchemy_dir() -> str | None:
    spec = importlib.util.find_spec("sqlalchemy")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return locations[0] if locations else None


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError:
        return ""


def sqlalchemy_default(sqlalchemy_dir: str) -> str:
    """The driver this SQLAlchemy takes for a bare ``postgresql://`` (psycopg from 2.1)."""
    found = _DEFAULT_DIALECT.search(_read(f"{sqlalchemy_dir}/dialects/postgresql/__init__.py"))
    return found.group(1) if found else "psycopg2"


def installed_drivers(sqlalchemy_dir: str) -> list[str]:
    """The drivers importable here that this SQLAlchemy has a dialect for (not imported)."""
    found = []
    for driver, module in DRIVER_MODULES.items():
        dialect = _DIALECT_FILES.get(driver, driver)
        if not os.path.exists(f"{sqlalchemy_dir}/dialects/postgresql/{dialect}.py"):
            continue
        if driver in _DIALECT_FILES:
            continue  # psycopg_async: psycopg's own async half, chosen as psycopg
        if importlib.util.find_spec(module) is not None:
            found.append(driver)
    return found


def makes_async_engine(env_py: str | None) -> bool:
    """Whether env.py builds an async engine (the asyncio template, ``AsyncEngine(…)``)."""
    return bool(env_py) and ASYNC_ENGINE.search(_read(str(env_py))) is not None


def env_py_of(location: str) -> str | None:
    """env.py's path: ``location`` itself, or ``package:folder``'s env.py as Alembic finds
    a script directory shipped inside a package."""
    package, _, folder = location.partition(":")
    if not folder or os.sep in package:
        return location
    spec = importlib.util.find_spec(package)
    places = list(spec.submodule_search_locations or []) if spec else []
    return os.path.join(places[0], folder, "env.py") if places else None


def choose(installed: list[str], default: str, is_async: bool) -> tuple[str | None, str]:
    """The driver for a URL that names none, and why (a phrase)."""
    if is_async:
        for driver in ASYNC_PREFERENCE:
            if driver in installed:
                return driver, "installed; env.py makes an async engine"
    if default in installed:
        return default, "installed; SQLAlchemy's own default"
    for driver in (*SYNC_PREFERENCE, *ASYNC_PREFERENCE):
        if driver in installed:
            return driver, "the only one installed" if len(installed) == 1 else "installed"
    return None, "no PostgreSQL driver SQLAlchemy can use is installed"


def detect(env_py: str | None) -> dict[str, Any]:
    """This interpreter's choice for a URL naming no driver, with what it was chosen from."""
    where = _sqlalchemy_dir()
    if where is None:
        return {"driver": None, "reason": "SQLAlchemy is not installed", "installed": []}
    installed = installed_drivers(where)
    is_async = makes_async_engine(env_py)
    driver, reason = choose(installed, sqlalchemy_default(where), is_async)
    version = _VERSION.search(_read(f"{where}/__init__.py"))
    return {
        "driver": driver,
        "reason": reason,
        "installed": installed,
        "async_env_py": is_async,
        "sqlalchemy": version.group(1) if version else None,
        "python": sys.executable,
    }


if __name__ == "__main__":
    print(json.dumps(detect(env_py_of(sys.argv[1]) if len(sys.argv) > 1 else None)))
