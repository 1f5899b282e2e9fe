"""env.py that connects where its own settings say (the target's URL goes unread)."""

import os

from alembic import context
from sqlalchemy import create_engine, pool

url = os.environ["APP_SETTINGS_DATABASE_URL"]  # a settings file's URL, not the target's
if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(url, poolclass=pool.NullPool).connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
