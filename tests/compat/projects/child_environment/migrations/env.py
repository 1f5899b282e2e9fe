"""env.py that writes down the environment it was given (names, and the URL's)."""

import json
import os
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine, pool

Path(os.environ["ENV_REPORT"]).write_text(json.dumps(dict(os.environ)))
url = os.environ["DATABASE_URL"]
if not context.is_offline_mode():
    with create_engine(url, poolclass=pool.NullPool).connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
