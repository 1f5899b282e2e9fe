"""Helpers for the checks tests: targets built from real config text, databases at a revision."""

from __future__ import annotations

import secrets
import textwrap
from pathlib import Path

from psycopg import sql

from commands.config.targets_file import BUNDLED_MIGRATIONS, parse_config
from commands.migration.planning import plan
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.targets import TargetHandle, open_target
from tests.support.applying import run_plan

BEFORE_RISKY = "c9d0b2f4e165"  # the bundled revision just before the risky e2f6a8c0d376
RISKY = "e2f6a8c0d376"
HEAD = "4f1c7a9e2b87"  # the bundled project's last revision, after RISKY: drops videos.youtube_id


def url_text(url: DatabaseUrl) -> str:
    return url.text()


def handle_for(
    database: DatabaseUrl,
    base: Path,
    *,
    target: str = "app",
    extra: str = "",
    checks: str = "",
    script_location: Path = BUNDLED_MIGRATIONS,
    others: str = "",
    environ: dict[str, str] | None = None,
) -> TargetHandle:
    """Target ``target`` on ``database`` from a real targets file (so the keys are validated)."""
    variable = f"{target.upper()}_URL"
    text = textwrap.dedent(
        f"""
        [targets.{target}]
        database_url_env = "{variable}"
        script_location = "{script_location.as_posix()}"
        approvers = ["U0BOB"]
        {extra}

        [targets.{target}.checks]
        {checks}
        """
    ) + textwrap.dedent(others)
    config = parse_config(text, source="test.toml", base=base)
    env = {**(environ or {}), variable: url_text(database)}
    return open_target(config.target(target), env)


def upgrade(handle: TargetHandle, to: str = "head") -> None:
    for _ in run_plan(handle, plan(handle, to=to, with_sql=False)):
        pass


def copy_database(server: DatabaseUrl, source: DatabaseUrl, prefix: str = "copy") -> DatabaseUrl:
    """A real copy (CREATE DATABASE … TEMPLATE): the source must have no other sessions."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    with connect(server) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(source.database)
            )
        )
    return server.with_database(name)
