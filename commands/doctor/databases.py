"""Each target's databases as a migration needs them: reachable, with the privileges to
change the schema, and a pg_dump new enough to back the server up.

A fleet is checked member by member; a target whose URL cannot be read gets one line
saying which variable to set. Nothing is written to any database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import psycopg

from commands.config.targets_file import Config, TargetConfig
from commands.doctor.finding import Finding, fail, ok, warn
from commands.errors import ConfigError, DatabaseUnavailableError
from commands.postgres.connections import connect, server_version
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.pg_tools import PgToolsError, default_tool_dirs, find_pg_tools
from commands.targets import fleet_members, open_target

_PRIVILEGES = """
SELECT current_user, current_setting('server_version'), r.rolsuper, s.name,
       s.name IS NOT NULL AND has_schema_privilege(s.name, 'CREATE'),
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname <> 'information_schema'
          AND n.nspname !~ '^pg_' AND NOT pg_has_role(c.relowner, 'USAGE')),
       (SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ', ')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname <> 'information_schema'
          AND n.nspname !~ '^pg_' AND NOT pg_has_role(c.relowner, 'USAGE'))
FROM pg_roles r, (SELECT current_schema() AS name) s
WHERE r.rolname = current_user
"""


@dataclass(frozen=True)
class ServerFacts:
    """What one connection told: who the bot is there and what it may do."""

    role: str
    version: str
    major: int
    superuser: bool
    schema: str | None
    can_create: bool
    foreign_tables: int  # tables the role neither owns nor may act as the owner of
    foreign_owners: str


def check_databases(config: Config, environ: Mapping[str, str] = os.environ) -> list[Finding]:
    """Two lines a database: its connection and privileges, then its pg_dump."""
    found: list[Finding] = []
    for target in config.targets.values():
        for name, url in _databases(target, environ, found):
            found += _check_one(name, target, url, environ)
    return found


def _databases(
    target: TargetConfig, environ: Mapping[str, str], found: list[Finding]
) -> Iterator[tuple[str, DatabaseUrl]]:
    """Each database of ``target`` (a fleet's members, by ``fleet.member``); a URL that
    cannot be read is a finding instead."""
    try:
        if target.fleet is None:
            yield target.name, open_target(target, environ).database
            return
        members = fleet_members(target, environ)
    except ConfigError as exc:
        found.append(fail(f"database {target.name}", str(exc), _url_fix(target)))
        return
    for member, url in members.items():
        yield f"{target.name}.{member}", url


def _url_fix(target: TargetConfig) -> str:
    variable = target.database_url_env or (target.fleet.members_env if target.fleet else None)
    if variable is None:
        return "see the error above"
    return f"set {variable} in the bot's environment to the database's postgresql:// URL"


def _check_one(
    name: str, target: TargetConfig, url: DatabaseUrl, environ: Mapping[str, str]
) -> list[Finding]:
    check = f"database {name}"
    try:
        with connect(url, connect_timeout=5) as conn:
            facts = read_facts(conn)
    except DatabaseUnavailableError as exc:
        fix = (
            "check the host, port, database, user and password in the URL, and that this"
            " machine may connect (firewall, pg_hba.conf)"
        )
        return [fail(check, str(exc), fix)]
    except psycopg.Error as exc:
        return [fail(check, f"{url.display()}: {exc}".strip(), "see PostgreSQL's message")]
    return [privileges_finding(check, url, facts), pg_dump_finding(name, target, facts, environ)]


def read_facts(conn: psycopg.Connection) -> ServerFacts:
    row = conn.execute(_PRIVILEGES).fetchone()
    assert row is not None
    role, version, superuser, schema, can_create, foreign, owners = row
    return ServerFacts(
        role=role,
        version=str(version).split()[0],
        major=server_version(conn)[0],
        superuser=bool(superuser),
        schema=schema,
        can_create=bool(can_create),
        foreign_tables=int(foreign),
        foreign_owners=owners or "",
    )


def privileges_finding(check: str, url: DatabaseUrl, facts: ServerFacts) -> Finding:
    where = f"{url.display()} (PostgreSQL {facts.version}) as {facts.role}"
    if facts.superuser:
        return ok(check, f"{where}, a superuser")
    if facts.schema is None:
        return fail(
            check,
            f"{where}: no schema on the search_path to create tables in",
            f"ALTER ROLE {facts.role} SET search_path = public (or your schema)",
        )
    if not facts.can_create:
        return fail(
            check,
            f"{where}: may not CREATE in schema {facts.schema}, so a revision adding a table"
            " or an index fails",
            f"GRANT CREATE ON SCHEMA {facts.schema} TO {facts.role} (or run the bot as the"
            " tables' owner)",
        )
    if facts.foreign_tables:
        return warn(
            check,
            f"{where}: {facts.foreign_tables} table(s) belong to {facts.foreign_owners}, which"
            f" {facts.role} cannot act as: an ALTER or DROP on them fails",
            f"run the bot as {facts.foreign_owners}, or GRANT {facts.foreign_owners} TO"
            f" {facts.role}",
        )
    return ok(check, f"{where}, owner of every table, may create in {facts.schema}")


def pg_dump_finding(
    name: str, target: TargetConfig, facts: ServerFacts, environ: Mapping[str, str]
) -> Finding:
    """The pg_dump a backup of this server would use, as the backup looks for it."""
    check = f"pg_dump {name}"
    dirs = default_tool_dirs(target.pg_bin_dir, environ)
    try:
        tools = find_pg_tools(facts.major, facts.version, dirs)
    except PgToolsError as exc:
        return fail(
            check,
            str(exc),
            f"install PostgreSQL {facts.major}'s client programs and set pg_bin_dir to their"
            " folder",
        )
    used = f"pg_dump {tools.version} ({tools.pg_dump}) for the server's {facts.version}"
    if target.pg_bin_dir is not None and tools.bin_dir != target.pg_bin_dir:
        return warn(
            check,
            f"pg_bin_dir ({target.pg_bin_dir}) has no pg_dump of PostgreSQL {facts.major} or"
            f" later; {used} is used instead",
            f"point pg_bin_dir at PostgreSQL {facts.major}'s programs, or remove it",
        )
    return ok(check, used)
