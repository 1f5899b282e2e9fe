"""Real Alembic projects written to disk for tests: env.py, versions/ and revision files."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path


def env_py(*, transaction_per_migration: bool) -> str:
    """A test project's env.py: the URL from ``sqlalchemy.url``, else $DATABASE_URL; one
    transaction per revision, or one for the whole upgrade as ``alembic init`` writes it."""
    return textwrap.dedent(
        f"""
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
                context.configure(
                    connection=connection,
                    transaction_per_migration={transaction_per_migration},
                )
                with context.begin_transaction():
                    context.run_migrations()
        """
    )


ENV_PY = env_py(transaction_per_migration=True)
ASYNC_ENV_PY = textwrap.dedent(
    """
    import asyncio
    from alembic import context
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import async_engine_from_config

    config = context.config


    def run(connection):
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


    async def online():
        section = config.get_section(config.config_ini_section, {})
        engine = async_engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()


    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(online())
    """
)
"""The same as an async project writes it (Alembic's asyncio template, shortened)."""


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


def write_project(root: Path, revisions: list[Rev], env: str = ENV_PY) -> Path:
    """A script_location directory holding ``revisions`` and the env.py ``env``; returns it."""
    versions = root / "versions"
    versions.mkdir(parents=True)
    (root / "env.py").write_text(env)
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


def generated_history(count: int) -> list[Rev]:
    """A long linear history, as a busy service grows one: a table every tenth revision,
    then columns, indexes, a constraint and a data fix on it (benches and long tests)."""
    return [_generated(index) for index in range(count)]


def _generated(index: int) -> Rev:
    table_name = f"t{index // 10:02d}"
    kind = index % 10
    up, undo = _GENERATED_SQL.get(kind, _GENERATED_SQL[-1])
    return Rev(
        id=f"r{index:04d}",
        down=(f"r{index - 1:04d}",) if index else (),
        up_sql=tuple(s.format(t=table_name, k=kind) for s in up),
        down_sql=tuple(s.format(t=table_name, k=kind) for s in undo),
        message=f"Generated revision {index} on {table_name}.",
    )


_GENERATED_SQL: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {
    0: (
        ("CREATE TABLE IF NOT EXISTS {t} (id bigint PRIMARY KEY, code text, n int)",),
        ("DROP TABLE IF EXISTS {t}",),
    ),
    1: (
        ("ALTER TABLE {t} ADD COLUMN IF NOT EXISTS c{k} text",),
        ("ALTER TABLE {t} DROP COLUMN IF EXISTS c{k}",),
    ),
    2: (("CREATE INDEX idx_{t}_{k} ON {t} (n)",), ("DROP INDEX IF EXISTS idx_{t}_{k}",)),
    3: (
        ("ALTER TABLE {t} ADD CONSTRAINT {t}_n_check CHECK (n >= 0)",),
        ("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {t}_n_check",),
    ),
    -1: (("UPDATE {t} SET code = upper(code) WHERE code IS NOT NULL",), ()),
}
_GENERATED_SQL[4] = _GENERATED_SQL[7] = _GENERATED_SQL[1]
_GENERATED_SQL[5] = _GENERATED_SQL[2]


def wide_history(count: int, tables: int) -> list[Rev]:
    """A linear history of ``count`` revisions that builds ``tables`` tables between them,
    each with an identity key, a foreign key to the one before, defaults, a check, an
    index and a comment; a view every tenth table, a trigger every thirtieth (the drift
    bench's schema)."""
    cut = [index * tables // count for index in range(count + 1)]
    return [
        Rev(
            id=f"w{index:04d}",
            down=(f"w{index - 1:04d}",) if index else (),
            up_sql=tuple(s for n in range(cut[index], cut[index + 1]) for s in _wide_table(n)),
            message=f"Generated revision {index}: tables {cut[index]} to {cut[index + 1] - 1}.",
        )
        for index in range(count)
    ]


def _wide_table(n: int) -> list[str]:
    name = f"t{n:03d}"
    parent = f" REFERENCES t{n - 1:03d} (id) ON DELETE CASCADE" if n else ""
    statements = [
        f"CREATE TABLE {name} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        f" parent_id bigint{parent}, code varchar(40) NOT NULL DEFAULT '',"
        " amount numeric(12, 2), status text NOT NULL DEFAULT 'new' CHECK (status <> ''),"
        " created_at timestamptz NOT NULL DEFAULT now(), payload jsonb)",
        f"CREATE INDEX ix_{name}_created ON {name} (created_at)",
        f"COMMENT ON TABLE {name} IS 'generated table {n}'",
    ]
    if n % 10 == 9:
        statements.append(f"CREATE VIEW v_{name} AS SELECT id, code, status FROM {name}")
    if n % 30 == 29:
        statements += [
            f"CREATE FUNCTION touch_{name}() RETURNS trigger LANGUAGE plpgsql AS"
            " 'BEGIN NEW.created_at := now(); RETURN NEW; END'",
            f"CREATE TRIGGER {name}_touch BEFORE UPDATE ON {name} FOR EACH ROW"
            f" EXECUTE FUNCTION touch_{name}()",
        ]
    return statements
