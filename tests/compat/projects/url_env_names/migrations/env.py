"""env.py reading the URL from the application's settings variables."""

import os

from alembic import context
from sqlalchemy import create_engine, pool

url = os.environ.get("SQLALCHEMY_DATABASE_URI") or os.environ["POSTGRES_DSN"]
assert os.environ["POSTGRES_DSN"] == url, "both names carry the target's URL"
assert os.environ["APP_ENV"] == "migrations", "child_env reaches env.py"

if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(url, poolclass=pool.NullPool).connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
