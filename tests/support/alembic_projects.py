"""Real Alembic projects written to disk for tests: env.py, versions/ and revision files."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

ENV_PY = '''
"""Test project env.py: URL from sqlalchemy.url, else $DATABASE_URL."""
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
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
'''


@dataclass(frozen=True)
class Rev:
    """One revision: its id, parents, and the SQL of each direction."""

    id: str
    down: tuple[str, ...] = ()
    up_sql: tuple[str, ...] = ()
    down_sql: tuple[str, ...] = ()
    message: str = ""
    body: str | None = None  # a whole upgrade()/downgrade() pair, replacing the SQL


def write_revision(versions: Path, rev: Rev) -> Path:
    down: str | tuple[str, ...] | None = None
    if len(rev.down) == 1:
        down = rev.down[0]
    elif rev.down:
        down = rev.down
    body = rev.body or textwrap.dedent(
        f'''
        def upgrade() -> None:
            """Apply {rev.id}."""
            for statement in {rev.up_sql!r}:
                op.execute(statement)


        def downgrade() -> None:
            """Undo {rev.id}."""
            for statement in {rev.down_sql!r}:
                op.execute(statement)
        '''
    )
    path = versions / f"{rev.id}.py"
    path.write_text(
        f'"""{rev.message or "Revision " + rev.id}"""\n\n'
        "from alembic import op\n\n"
        f"revision = {rev.id!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        f"{body}"
    )
    return path


def write_project(root: Path, revisions: list[Rev]) -> Path:
    """A script_location directory holding ``revisions``; returns it."""
    versions = root / "versions"
    versions.mkdir(parents=True)
    (root / "env.py").write_text(ENV_PY)
    (root / "script.py.mako").write_text("")
    for rev in revisions:
        write_revision(versions, rev)
    return root


def table(name: str, down: tuple[str, ...] = ()) -> Rev:
    """A revision creating table ``name`` (its id is the table name)."""
    return Rev(
        id=name,
        down=down,
        up_sql=(f"CREATE TABLE {name} (id int PRIMARY KEY)",),
        down_sql=(f"DROP TABLE {name}",),
        message=f"create {name}",
    )
