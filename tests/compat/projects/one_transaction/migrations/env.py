"""env.py that runs the whole upgrade in one transaction it opens itself."""

import os

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
URL = config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]

if context.is_offline_mode():
    context.configure(url=URL, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(URL, poolclass=pool.NullPool)
    with engine.begin() as connection:
        context.configure(connection=connection, transaction_per_migration=False)
        context.run_migrations()
