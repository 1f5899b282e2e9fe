"""The environment the Alembic child gets: what env.py needs, never the bot's secrets.

The project's env.py and revision files are the team's code, not the bot's:
they get the basics a program needs (``PATH``, ``HOME``, the locale, libpq's
own ``PG*`` settings), the target's database URL under ``DATABASE_URL``,
``sqlalchemy.url`` and the names the target lists in ``url_env_names`` (with
the driver the user or ``driver`` named; else the child names one), its
parts under the names of ``url_env_parts`` (an env.py building its URL from
``DB_HOST``, ``DB_PORT``, …), and what it lists in ``child_env``. The Slack
tokens, the AWS keys and every other target's URL stay with the bot, so a
project variable of the same name can never point env.py at another database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from commands.config.alembic_project import URL_PLACEHOLDER, AlembicProject
from commands.postgres.database_url import DatabaseUrl

BASICS = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SHELL")
SET_PER_REQUEST = ("PGOPTIONS", "PGAPPNAME")  # the runner sets these for each attempt
URL_NAMES_ENV = "MIGRATE_BOT_URL_NAMES"  # tells the child which variables carry the URL


def child_environment(
    project: AlembicProject,
    database: DatabaseUrl | None,
    *,
    workdir: Path,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The child's whole environment, built from nothing."""
    child = {name: environ[name] for name in BASICS if name in environ}
    child.update(
        (name, value)
        for name, value in environ.items()
        if name.startswith("LC_") or (name.startswith("PG") and name not in SET_PER_REQUEST)
    )
    for name, value in project.child_env.items():
        if value is not None:
            child[name] = value
        elif name in environ:
            child[name] = environ[name]
    if database is not None:
        url = database.for_env_py(project.driver)
        for name in ("DATABASE_URL", *project.url_env_names):
            child[name] = url
        for name, part in project.url_env_parts.items():
            child[name] = url_part(database, part, url)
        child[URL_NAMES_ENV] = ",".join(project.url_env_names)
    if project.config_file is None:  # no alembic.ini to say prepend_sys_path: the folder
        child["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(workdir), child.get("PYTHONPATH", "")) if p
        )
    return child


def url_part(database: DatabaseUrl, part: str, url: str) -> str:
    """One part of the URL, as a setting of the project's holds it (``port``: 5432 when
    the URL names none; ``host``: a socket's folder too, ``?host=`` included), or a text
    with ``{url}`` (``url``, as env.py gets it), ``{host}``, … filled in."""
    query = {name: value for name, value in database.query if isinstance(value, str)}
    values = {
        "url": url,
        "host": database.host or query.get("host") or "localhost",
        "port": str(database.port or query.get("port") or 5432),
        "user": database.username or "",
        "password": database.password or "",
        "dbname": database.database,
    }
    if part in values:
        return values[part]
    return URL_PLACEHOLDER.sub(lambda found: values[found[1]], part)
