"""A generated Alembic project of N real revision files, for benchmarks.

Revision ``i`` creates a table every tenth revision and otherwise adds a
column, an index, a constraint or runs an UPDATE on it, each with a real
downgrade. env.py is the one ``alembic init`` writes (one transaction for the
whole upgrade, as plain Alembic runs it), and ``alembic.ini`` sits beside it,
so plain ``alembic upgrade head`` and migrate-bot run the very same project.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from commands.config.targets_file import parse_config
from commands.postgres.database_url import DatabaseUrl
from commands.targets import TargetHandle, open_target

ENV_PY = """
import os
from alembic import context
from sqlalchemy import create_engine, pool

url = context.config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(url, poolclass=pool.NullPool).connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
"""
ALEMBIC_INI = """
[alembic]
script_location = %(here)s/migrations
"""


def handle_for(database: DatabaseUrl, script_location: Path, base: Path) -> TargetHandle:
    """A target ``bench`` on ``database`` for the project at ``script_location``."""
    text = textwrap.dedent(
        f"""
        [targets.bench]
        database_url_env = "BENCH_URL"
        script_location = "{script_location.as_posix()}"
        approvers = ["U0BOB"]
        """
    )
    config = parse_config(text, source="bench.toml", base=base)
    url = database.url.render_as_string(hide_password=False)
    return open_target(config.target("bench"), {"BENCH_URL": url})


def revision_file(index: int) -> str:
    """Revision ``index``: a table every tenth, else columns, indexes, constraints on one."""
    rev, down = f"r{index:04d}", (f"'r{index - 1:04d}'" if index else "None")
    table = f"t{index // 10:02d}"
    kind = index % 10
    if kind == 0:
        up = [f"CREATE TABLE IF NOT EXISTS {table} (id bigint PRIMARY KEY, code text, n int)"]
        undo = [f"DROP TABLE IF EXISTS {table}"]
    elif kind in (1, 4, 7):
        up = [f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS c{kind} text"]
        undo = [f"ALTER TABLE {table} DROP COLUMN IF EXISTS c{kind}"]
    elif kind in (2, 5):
        up = [f"CREATE INDEX idx_{table}_{kind} ON {table} (n)"]
        undo = [f"DROP INDEX IF EXISTS idx_{table}_{kind}"]
    elif kind == 3:
        up = [f"ALTER TABLE {table} ADD CONSTRAINT {table}_n_check CHECK (n >= 0)"]
        undo = [f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_n_check"]
    else:
        up = [f"UPDATE {table} SET code = upper(code) WHERE code IS NOT NULL"]
        undo = []
    body_up = "\n".join(f"    op.execute({s!r})" for s in up) or "    pass"
    body_down = "\n".join(f"    op.execute({s!r})" for s in undo) or "    pass"
    return (
        f'"""Generated revision {index} on {table}."""\n\n'
        "from alembic import op\n\n"
        f"revision = {rev!r}\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f'def upgrade() -> None:\n    """Apply {rev}."""\n{body_up}\n\n\n'
        f'def downgrade() -> None:\n    """Undo {rev}."""\n{body_down}\n'
    )


def generated_project(root: Path, count: int) -> Path:
    """``root/migrations`` (env.py, versions/) with ``count`` revisions, and
    ``root/alembic.ini``; returns the script location."""
    location = root / "migrations"
    versions = location / "versions"
    versions.mkdir(parents=True)
    (location / "env.py").write_text(ENV_PY)
    (location / "script.py.mako").write_text("")
    (root / "alembic.ini").write_text(ALEMBIC_INI)
    for index in range(count):
        (versions / f"r{index:04d}.py").write_text(revision_file(index))
    return location
