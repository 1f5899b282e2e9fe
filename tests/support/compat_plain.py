"""The compatibility suite's yardstick: the bot's steps beside plain Alembic's.

``beside_plain`` takes a compat target through plan, check, upgrade,
downgrade -1 and downgrade base with the bot, and the same project through
``alembic upgrade head``, ``downgrade -1`` and ``downgrade base`` with the same
interpreter on a second database; after each step both databases must hold
the same tables, columns, indexes and version rows.
"""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import RequestState
from tests.support.compat import CompatTarget
from tests.support.databases import create_database, drop_database

Snapshot = tuple[tuple[str, ...], ...]
_SCHEMA_QUERY = """
    SELECT 'column', table_schema, table_name, column_name, data_type, is_nullable
    FROM information_schema.columns
    WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT 'index', schemaname, tablename, indexname, indexdef, ''
    FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
    ORDER BY 1, 2, 3, 4
"""


def snapshot(database: DatabaseUrl, version_table: str) -> Snapshot:
    """What a migration changed: every column and index, and the version rows."""
    with connect(database) as conn:
        rows = [tuple(str(v) for v in row) for row in conn.execute(_SCHEMA_QUERY).fetchall()]
        exists = conn.execute("SELECT to_regclass(%s)", (version_table,)).fetchone()
        if exists and exists[0]:
            found = conn.execute(f"SELECT version_num FROM {version_table} ORDER BY 1")
            rows += [("version", str(row[0])) for row in found.fetchall()]
    return tuple(rows)


def plain_ini(root: Path, url: str | None) -> str:
    """The project's alembic.ini as its users fill it in: ``sqlalchemy.url`` set to ``url``
    (left as it is for None). Written beside it, so ``%(here)s`` means the same."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(root / "alembic.ini")
    if url is not None:
        parser["alembic"]["sqlalchemy.url"] = url.replace("%", "%%")
    with (root / "plain.ini").open("w") as file:
        parser.write(file)
    return "plain.ini"


def plain_alembic(
    python: str, root: Path, url: str, env: dict[str, str], *args: str, ini: str = "alembic.ini"
) -> subprocess.CompletedProcess[str]:
    """``alembic -c INI ARGS`` with ``python``, as the project's own command runs."""
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **env}
    return subprocess.run(
        [python, "-m", "alembic", "-c", ini, *args],
        cwd=root,
        env={**environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )


def beside_plain(
    target: CompatTarget,
    server: DatabaseUrl,
    *,
    python: str,
    revisions: list[str],
    driver: str | None,
    plain_env: dict[str, str] | None = None,
    version_table: str = "alembic_version",
    url_in_ini: bool = True,
) -> None:
    """The bot's plan, check, upgrade, downgrade -1 and base, each step's database the same
    as plain Alembic's, which gets the URL as the project's users write it: for
    ``driver`` (None: as the bot's target has it), in ``sqlalchemy.url`` unless
    ``url_in_ini`` is False, and as ``$DATABASE_URL``."""
    report = target.check()
    assert report.plan is not None and not report.blocks, report.results
    assert [r.id for r in report.plan.revisions] == revisions
    assert all(report.plan.sql.get(rev) for rev in revisions), report.plan.unavailable
    other = create_database(server)
    try:
        url = other.for_driver(driver).url.render_as_string(hide_password=False)
        ini = plain_ini(target.root, url if url_in_ini else None)
        for bot_step, plain_step in (
            (target.upgrade, ("upgrade", "head")),
            (lambda: target.downgrade("-1"), ("downgrade", "-1")),
            (lambda: target.downgrade("base"), ("downgrade", "base")),
        ):
            outcome = bot_step()
            assert outcome.state is RequestState.SUCCEEDED, outcome.error
            env = {name: value.replace("{url}", url) for name, value in (plain_env or {}).items()}
            plain = plain_alembic(python, target.root, url, env, *plain_step, ini=ini)
            assert plain.returncode == 0, plain.stderr[-2000:]
            bot_side = snapshot(target.database, version_table)
            assert bot_side == snapshot(other, version_table), plain_step
    finally:
        drop_database(server, other)
