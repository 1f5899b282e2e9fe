"""env.py migrating one tenant's schema, named with `-x tenant=NAME`."""

import os

from alembic import context
from sqlalchemy import create_engine, pool, text

config = context.config
URL = config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
tenant = context.get_x_argument(as_dictionary=True)["tenant"]
schema = f"tenant_{tenant}"

if context.is_offline_mode():
    context.configure(
        url=URL,
        literal_binds=True,
        version_table="revision_log",
        version_table_schema=schema,
    )
    with context.begin_transaction():
        context.execute(f"SET search_path TO {schema}")
        context.run_migrations()
else:
    engine = create_engine(URL, poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        connection.execute(text(f"SET search_path TO {schema}"))
        connection.commit()
        context.configure(
            connection=connection, version_table="revision_log", version_table_schema=schema
        )
        with context.begin_transaction():
            context.run_migrations()
