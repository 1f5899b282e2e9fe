"""env.py whose schema comes from an environment variable, with the version table in it."""

import os

from alembic import context
from sqlalchemy import engine_from_config, pool, text

config = context.config
SCHEMA = os.environ["APP_SCHEMA"]

if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        version_table_schema=SCHEMA,
    )
    with context.begin_transaction():
        context.execute(f"SET search_path TO {SCHEMA}")
        context.run_migrations()
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        connection.execute(text(f"SET search_path TO {SCHEMA}"))
        connection.commit()
        context.configure(connection=connection, version_table_schema=SCHEMA, include_schemas=True)
        with context.begin_transaction():
            context.run_migrations()
