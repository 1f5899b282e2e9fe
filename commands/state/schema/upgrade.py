"""Bring the shared state's schema to its newest revision with its bundled Alembic history."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from commands.errors import DatabaseUnavailableError
from commands.postgres.database_url import DatabaseUrl
from commands.state.schema import HISTORY, SCHEMA, SEARCH_PATH, UPGRADE_LOCK


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(HISTORY))
    return config


def upgrade_schema(url: DatabaseUrl) -> None:
    """Create the schema or bring it to the newest revision; raises
    ``DatabaseUnavailableError`` (password masked) when the server cannot be reached."""
    engine = create_engine(
        url.for_bot_sqlalchemy(), poolclass=NullPool, connect_args={"options": SEARCH_PATH}
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": UPGRADE_LOCK}
            )
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise DatabaseUnavailableError(
            f"cannot reach the shared state at {url.display()}: {exc.orig}"
        ) from None
    finally:
        engine.dispose()


def current_revision(url: DatabaseUrl) -> str | None:
    """The schema's revision (``None`` before the first upgrade), for support and tests."""
    engine = create_engine(
        url.for_bot_sqlalchemy(), poolclass=NullPool, connect_args={"options": SEARCH_PATH}
    )
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT to_regclass(:table) IS NOT NULL",
                ),
                {"table": f"{SCHEMA}.alembic_version"},
            ).scalar()
            if not found:
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
