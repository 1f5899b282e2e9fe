"""env.py that builds its own async engine: `AsyncEngine(engine_from_config(…))` when
`sqlalchemy.url` is set, else its own variable turned into an asyncpg URL; and it copes
with being run from a loop already running (an application's start-up)."""

import asyncio
import os

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

config = context.config
ASYNC_SCHEMES = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    scheme, _, rest = os.environ["LEDGER_DATABASE_URL"].partition("://")
    return f"{ASYNC_SCHEMES.get(scheme, scheme)}://{rest}"


def engine() -> AsyncEngine:
    if config.get_main_option("sqlalchemy.url"):
        section = config.get_section(config.config_ini_section, {})
        return AsyncEngine(engine_from_config(section, prefix="sqlalchemy.", future=True))
    return create_async_engine(database_url(), poolclass=pool.NullPool)


def do_run_migrations(connection) -> None:
    context.configure(connection=connection, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    connectable = engine()
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and loop.is_running():  # run by an application already in its loop
        loop.create_task(run_migrations_online())
    else:
        asyncio.run(run_migrations_online())
