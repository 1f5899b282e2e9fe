"""The bot's own tables in a shared PostgreSQL: a schema of its own (``migrate_bot``),
made and upgraded by the bot itself with the Alembic history bundled here.

This history is the bot's, never the user's project: it lives in
``commands/state/schema/versions``, keeps its version table inside the
bot's schema, and runs whenever a process opens the shared state
(``upgrade_schema``), under an advisory lock so two processes starting at
once upgrade once. Every connection to the shared state puts the schema
first on its ``search_path``, so the tables (the audit log's, the outbox,
the scheduler's jobs, procrastinate's queue) are named without it. The
upgrade itself is ``upgrade.py``, so the names here cost no Alembic import
(the SQLite default never needs one).
"""

from __future__ import annotations

from pathlib import Path

SCHEMA = "migrate_bot"
HISTORY = Path(__file__).resolve().parent
SEARCH_PATH = f"-c search_path={SCHEMA}"
UPGRADE_LOCK = "migrate_bot.schema"  # the advisory lock two starting processes queue on
