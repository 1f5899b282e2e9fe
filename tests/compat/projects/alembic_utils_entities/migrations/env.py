"""env.py of a project that registers alembic_utils entities (functions, views)."""

import os

from alembic import context
from alembic_utils.pg_function import PGFunction  # noqa: F401 registers the ops
from sqlalchemy import create_engine, pool

config = context.config
URL = config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
if context.is_offline_mode():
    context.configure(url=URL, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(URL, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
