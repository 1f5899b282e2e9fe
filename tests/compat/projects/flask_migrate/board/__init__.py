"""A Flask application whose database URL comes from its settings."""

import os
import sys
from pathlib import Path

from flask import Flask

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BOARD_DATABASE_URI"]
    return app


def create_app_with_settings() -> Flask:
    """A factory that reads its settings before anything, as ihatemoney's and CTFd's do
    (and then migrate the database themselves): without them it raises."""
    app = create_app()
    app.config["SECRET_KEY"] = os.environ["BOARD_SECRET_KEY"]
    return app


def create_app_that_migrates() -> Flask:
    """A factory that brings the database to head every time it runs, as ihatemoney's
    ``create_app`` does with Flask-Migrate's ``upgrade`` (here Alembic's own command,
    wrapped as Flask-Migrate wraps it: a ``RuntimeError`` is logged and the process exits)."""
    from alembic import command
    from alembic.config import Config

    app = create_app()
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with app.app_context():
            command.upgrade(config, "head")
    except RuntimeError as error:
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
    return app


def create_app_that_writes() -> Flask:
    """A factory that writes when it is built, as Superset's makes Flask-AppBuilder's
    tables with ``create_all`` and seeds rows: the bot must not let it, during a plan."""
    from sqlalchemy import create_engine, text

    app = create_app()
    with create_engine(app.config["SQLALCHEMY_DATABASE_URI"]).begin() as conn:
        conn.execute(text("SELECT 1"))  # a read first: reads are let through
        conn.execute(text("CREATE TABLE IF NOT EXISTS ab_user (id int PRIMARY KEY)"))
    return app


def create_app_that_reads() -> Flask:
    """A factory that reads its settings from the database when it is built: allowed."""
    from sqlalchemy import create_engine, text

    app = create_app()
    with create_engine(app.config["SQLALCHEMY_DATABASE_URI"]).connect() as conn:
        app.config["BOARD_SERVER"] = conn.execute(text("SHOW server_version")).scalar()
    return app
