"""From a target's config to its database and its Alembic project.

The URL is read from the environment when it is needed, not at start, so one
target with a missing variable does not stop the bot serving the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from commands.config.targets_file import TargetConfig
from commands.errors import ConfigError
from commands.postgres.database_url import DatabaseUrl, InvalidDatabaseUrl
from commands.postgres.embedded import ensure_database, start_embedded_server


@dataclass(frozen=True)
class TargetHandle:
    """A target with its database URL resolved: what every operation starts from."""

    config: TargetConfig
    database: DatabaseUrl

    @property
    def name(self) -> str:
        return self.config.name


def resolve_database(target: TargetConfig, environ: Mapping[str, str] = os.environ) -> DatabaseUrl:
    """The target's database URL; starts the embedded server for an embedded target."""
    if target.embedded_postgres is not None:
        server = start_embedded_server(target.embedded_postgres)
        return ensure_database(server, target.embedded_database)
    assert target.database_url_env is not None
    key = f"targets.{target.name}.database_url_env"
    return url_from_environment(target.database_url_env, key, environ)


def url_from_environment(variable: str, key: str, environ: Mapping[str, str]) -> DatabaseUrl:
    """The URL held by ``$variable``; raises ``ConfigError`` naming ``key`` (never the URL)."""
    value = environ.get(variable)
    if not value:
        raise ConfigError(f"${variable}", key, "is not set in the environment")
    try:
        return DatabaseUrl.parse(value)
    except InvalidDatabaseUrl as exc:
        raise ConfigError(f"${variable}", key, str(exc)) from None


def open_target(target: TargetConfig, environ: Mapping[str, str] = os.environ) -> TargetHandle:
    return TargetHandle(config=target, database=resolve_database(target, environ))


TargetOpener = Callable[[TargetConfig], TargetHandle]
"""How the pipeline and the fronts open a target (tests may point it elsewhere)."""
