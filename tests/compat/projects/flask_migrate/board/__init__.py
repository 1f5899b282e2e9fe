"""A Flask application whose database URL comes from its settings."""

import os

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BOARD_DATABASE_URI"]
    return app
