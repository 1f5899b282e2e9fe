"""env.py as `alembic init` writes it: the URL from sqlalchemy.url, one transaction."""

import os

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
URL = config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]


def run_offline() -> None:
    context.configure(url=URL, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(URL, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
