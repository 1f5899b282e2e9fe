"""A Flask application whose database URL comes from its settings."""

import os

from flask import Flask


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
