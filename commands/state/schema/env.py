"""Alembic's environment for the bot's own schema: run on the connection
``upgrade_schema`` hands over, with the version table inside the schema."""

from alembic import context

from commands.state.schema import SCHEMA

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table_schema=SCHEMA)
with context.begin_transaction():
    context.run_migrations()
