"""env.py in the manner of Flask-Migrate's: everything comes from the current app."""

from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import create_engine, pool

fileConfig(context.config.config_file_name)
url = current_app.config["SQLALCHEMY_DATABASE_URI"]

if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(url, poolclass=pool.NullPool).connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
