"""From a target's config to its database and its Alembic project.

The URL is read from the environment when it is needed, not at start, so one
target with a missing variable does not stop the bot serving the others. A
fleet's members are read the same way, from the JSON object its
``members_env`` names; one member (``tenants.acme``) opens as any target does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from commands.config.fleet import MEMBER_NAME, embedded_member_database
from commands.config.targets_file import TargetConfig
from commands.errors import ConfigError
from commands.postgres.database_url import DatabaseUrl, InvalidDatabaseUrl


class MemberNotListedError(ConfigError):
    """A fleet's variable no longer lists a member (it left the fleet since it was planned)."""


@dataclass(frozen=True)
class TargetHandle:
    """A target with its database URL resolved: what every operation starts from."""

    config: TargetConfig
    database: DatabaseUrl

    @property
    def name(self) -> str:
        return self.config.name


def resolve_database(target: TargetConfig, environ: Mapping[str, str] = os.environ) -> DatabaseUrl:
    """The target's database URL (a fleet member's: read from its fleet's members); starts
    the embedded server for an embedded target. Raises ``ConfigError`` for a fleet itself."""
    if target.member_of is not None:
        return _member_url(target, environ)
    if target.fleet is not None:
        raise ConfigError(
            target.name,
            None,
            f"is a fleet of {_where_members(target)}: name one member as {target.name}.MEMBER,"
            " or use status, plan, upgrade or downgrade on the fleet",
        )
    if target.embedded_postgres is not None:
        return _on_embedded_server(target, target.embedded_database)
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


def fleet_members(
    target: TargetConfig, environ: Mapping[str, str] = os.environ
) -> dict[str, DatabaseUrl]:
    """A fleet's members, name → URL, in the order ``members_env``'s JSON object lists them.

    Raises ``ConfigError`` naming the variable and the member (never a URL): unset,
    not a JSON object, empty, a name that is not a member name, a name given twice,
    a value that is not a PostgreSQL URL.
    """
    assert target.fleet is not None, f"{target.name} is not a fleet"
    if target.fleet.members_env is None:
        return {name: _embedded_member(target, name) for name in target.fleet.embedded_members}
    key = f"targets.{target.name}.members_env"
    return members_from_environment(target.fleet.members_env, key, environ)


def _where_members(target: TargetConfig) -> str:
    assert target.fleet is not None
    if target.fleet.members_env is None:
        return f"{len(target.fleet.embedded_members)} embedded databases"
    return f"members listed in ${target.fleet.members_env}"


def _embedded_member(target: TargetConfig, member: str) -> DatabaseUrl:
    """A member database on the embedded server (created when missing)."""
    return _on_embedded_server(target, embedded_member_database(target.embedded_database, member))


def _on_embedded_server(target: TargetConfig, database: str) -> DatabaseUrl:
    """``database`` on the target's embedded server, both started or made when missing."""
    # Imported here: psycopg is needed only for an embedded target, and a real target's
    # break-glass run starts its Alembic child before loading it (bot/cli/break_glass.py).
    from commands.postgres.embedded import ensure_database, start_embedded_server

    assert target.embedded_postgres is not None
    return ensure_database(start_embedded_server(target.embedded_postgres), database)


def members_from_environment(
    variable: str, key: str, environ: Mapping[str, str]
) -> dict[str, DatabaseUrl]:
    """The members held by ``$variable``; raises ``ConfigError`` naming ``key``."""
    where = f"${variable}"
    text = environ.get(variable)
    if not text:
        raise ConfigError(where, key, "is not set in the environment")
    try:
        pairs = json.loads(text, object_pairs_hook=list)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            where, key, f"is not JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    if not isinstance(pairs, list) or not pairs or not all(isinstance(p, tuple) for p in pairs):
        raise ConfigError(
            where, key, 'must hold a JSON object of members: {"acme": "postgresql://…", …}'
        )
    return _member_urls(pairs, where, key)


def _member_urls(pairs: list[tuple[str, Any]], where: str, key: str) -> dict[str, DatabaseUrl]:
    members: dict[str, DatabaseUrl] = {}
    for name, value in pairs:
        if not MEMBER_NAME.match(name):
            raise ConfigError(
                where, key, f"{name[:40]!r} is not a member name (letters, digits, '-' and '_')"
            )
        if name in members:
            raise ConfigError(where, key, f"member {name!r} is listed twice")
        if not isinstance(value, str):
            raise ConfigError(where, key, f"member {name!r}: the URL must be a string")
        try:
            members[name] = DatabaseUrl.parse(value)
        except InvalidDatabaseUrl as exc:
            raise ConfigError(where, key, f"member {name!r}: {exc}") from None
    return members


def _member_url(target: TargetConfig, environ: Mapping[str, str]) -> DatabaseUrl:
    """One member's URL, read from its fleet's variable; raises ``ConfigError`` when the
    fleet no longer lists it."""
    member_of = target.member_of
    assert member_of is not None
    if member_of.members_env is None:
        listed = member_of.settings.embedded_members
        if member_of.member in listed:
            return _embedded_member(target, member_of.member)
        raise MemberNotListedError(
            target.name,
            f"targets.{member_of.fleet}.embedded_members",
            f"does not list {member_of.member!r} (members: {', '.join(listed)})",
        )
    members = members_from_environment(
        member_of.members_env, f"targets.{member_of.fleet}.members_env", environ
    )
    if member_of.member not in members:
        known = ", ".join(list(members)[:10]) + (", …" if len(members) > 10 else "")
        raise MemberNotListedError(
            f"${member_of.members_env}",
            f"targets.{member_of.fleet}.members_env",
            f"has no member {member_of.member!r} (members: {known})",
        )
    return members[member_of.member]
