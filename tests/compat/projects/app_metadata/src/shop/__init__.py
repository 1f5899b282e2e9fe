"""The application: installed in its own virtualenv, not beside alembic.ini."""
