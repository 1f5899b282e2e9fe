"""A target's Alembic project: where it lives, which Python runs it, and what its env.py
is handed (the ini section, ``-x`` arguments, the URL's names, extra variables)."""

from __future__ import annotations

import configparser
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from commands.config.table import ConfigTable
from commands.postgres.drivers import DRIVER_MODULES

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INI_SECTION = re.compile(r"^[^\[\]\s][^\[\]]*$")
INI_OPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
FLASK_APP = re.compile(r"^[A-Za-z_][\w.]*(?::[A-Za-z_]\w*)?$")
X_ARG = re.compile(r"^[^\s=][^=]*(?:=.*)?$")
BOT_SECRET_PREFIXES = ("SLACK_", "AWS_", "MIGRATE_BOT_")
SQLALCHEMY_URL = "sqlalchemy.url"
URL_PARTS = ("host", "port", "user", "password", "dbname")
URL_PLACEHOLDER = re.compile(r"\{(url|host|port|user|password|dbname)\}")


@dataclass(frozen=True)
class AlembicProject:
    """Where a target's Alembic project lives, which Python runs it and what its env.py
    is handed: the ini section, ``-x`` arguments, the URL's names, extra variables."""

    config_file: Path | None
    script_location: Path | None
    python: str
    section: str = "alembic"
    x_args: tuple[str, ...] = ()
    url_env_names: tuple[str, ...] = ()
    # variables env.py builds its URL from, each the part of the URL it gets: {"DB_HOST": "host"}
    url_env_parts: Mapping[str, str] = field(default_factory=dict)
    url_ini_options: tuple[str, ...] = (SQLALCHEMY_URL,)  # (): sqlalchemy.url left unset
    child_env: Mapping[str, str | None] = field(default_factory=dict)  # None: pass through
    working_dir: Path | None = None
    flask_app: str | None = None  # "package.module:create_app": env.py runs in its app context
    driver: str | None = None  # SQLAlchemy's name ("asyncpg"): env.py's URL names it


def parse_alembic_project(table: ConfigTable) -> AlembicProject:
    """A target's Alembic keys, checked: the files exist, the ini has the section, the
    child's variables are names and never the bot's own secrets."""
    config_file = table.path("alembic_config")
    script_location = table.path("script_location")
    if config_file is None and script_location is None:
        raise table.error("alembic_config", "set alembic_config, script_location or both")
    if config_file is not None and not config_file.exists():
        table.report("alembic_config", f"{config_file} does not exist")
        config_file = None
    if script_location is not None and not script_location.exists():
        table.report("script_location", f"{script_location} does not exist")
        script_location = None
    elif script_location is not None and not (script_location / "env.py").exists():
        table.report("script_location", f"{script_location} has no env.py")
    working_dir = table.path("working_dir")
    if working_dir is not None and not working_dir.is_dir():
        raise table.error("working_dir", f"{working_dir} is not a folder")
    flask_app = table.string("flask_app", None, FLASK_APP)
    python = table.string("python", sys.executable)
    section = table.string("alembic_section", "alembic", INI_SECTION)
    if config_file is not None and section not in _ini_sections(config_file):
        raise table.error("alembic_section", f"{config_file} has no [{section}] section")
    parts, child_env = _url_env_parts(table), _child_env(table)
    for name in sorted(set(parts) & set(child_env)):  # one would silently win
        table.report("child_env", f"{name} is set by url_env_parts, from the database's URL")
    return AlembicProject(
        config_file=config_file,
        script_location=script_location,
        python=python,
        section=section,
        x_args=table.strings("x_args", (), X_ARG),
        url_env_names=table.strings("url_env_names", (), ENV_NAME),
        url_env_parts=parts,
        url_ini_options=table.strings("url_ini_options", (SQLALCHEMY_URL,), INI_OPTION),
        child_env=child_env,
        working_dir=working_dir,
        flask_app=flask_app,
        driver=_driver(table),
    )


def _driver(table: ConfigTable) -> str | None:
    """``driver``: one of SQLAlchemy's PostgreSQL drivers, for env.py's URL."""
    driver: str | None = table.string("driver", None)
    if driver is not None and driver not in DRIVER_MODULES:
        table.report(
            "driver",
            f"{driver!r} is not one of SQLAlchemy's PostgreSQL drivers"
            f" ({', '.join(DRIVER_MODULES)})",
        )
        return None
    return driver


def _ini_sections(path: Path) -> set[str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return set()  # Alembic itself will say what is wrong with the file
    return set(parser.sections())


def _url_env_parts(table: ConfigTable) -> dict[str, str]:
    """``url_env_parts``: ``{DB_HOST = "host", DB_PORT = "port", …}`` for an env.py that
    builds its URL from settings of its own (Dify's, mealie's, fastapi-template's), or a
    text holding ``{url}``, ``{host}``, … (Quay's ``{"DB_URI": "{url}"}``)."""
    raw = table.get("url_env_parts", dict, {})
    for name, part in raw.items():
        if not ENV_NAME.match(name) or name.startswith(BOT_SECRET_PREFIXES):
            raise table.error("url_env_parts", f"{name!r} is not a variable env.py may get")
        if not isinstance(part, str) or not (part in URL_PARTS or URL_PLACEHOLDER.search(part)):
            raise table.error(
                f"url_env_parts.{name}",
                f"{part!r} is not one of {', '.join(URL_PARTS)}, nor a text with"
                f" {{url}} or {{{'}, {'.join(URL_PARTS)}}} in it",
            )
    return dict(raw)


def _child_env(table: ConfigTable) -> dict[str, str | None]:
    """``child_env``: names passed through from the bot's environment (``["SENTRY_DSN"]``,
    ``"NAME=value"`` to set one), or a table of ``NAME = "value"``."""
    raw = table.get("child_env", (list, dict), [])
    if isinstance(raw, dict):
        pairs = list(raw.items())
        for name, value in pairs:
            if not isinstance(value, str):
                raise table.error(f"child_env.{name}", "must be a string")
    else:
        entries = table.strings("child_env", ())
        pairs = [(e.partition("=")[0], e.partition("=")[2] if "=" in e else None) for e in entries]
    for name, _ in pairs:
        if not ENV_NAME.match(name):
            raise table.error("child_env", f"{name!r} is not an environment variable name")
        if name.startswith(BOT_SECRET_PREFIXES):
            raise table.error(
                "child_env", f"{name} is one of migrate-bot's own secrets: it never reaches env.py"
            )
    return dict(pairs)
