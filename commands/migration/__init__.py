"""Alembic, split as Alembic splits itself: ``script/`` knows the revision files and
the graph (pure), ``runtime/`` talks to the database through the Alembic child."""
