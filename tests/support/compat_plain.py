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


# plain Alembic's own command line, one command per line read, in one process
_PLAIN = """
import sys
from alembic.config import main
for line in sys.stdin:
    try:
        main(argv=line.split(), prog="alembic")
        print("ok", flush=True)
    except SystemExit as exit:
        print(f"exit {exit.code}", flush=True)
"""


class PlainAlembic:
    """``alembic -c INI …`` with the project's interpreter, one command at a time, in one
    process (each command reads alembic.ini and runs env.py anew, as the console does)."""

    def __init__(self, python: str, root: Path, url: str, env: dict[str, str], ini: str) -> None:
        environ = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **env}
        self.ini = ini
        self.process = subprocess.Popen(
            [python, "-c", _PLAIN],
            cwd=root,
            env={**environ, "DATABASE_URL": url},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> str:
        """The command's outcome: ``ok`` or ``exit CODE``."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(" ".join(("-c", self.ini, *args)) + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> str:
        """Ends the process; what it wrote on stderr."""
        _, errors = self.process.communicate(timeout=60)
        return errors


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
        url = other.for_driver(driver).text()
        ini = plain_ini(target.root, url if url_in_ini else None)
        env = {name: value.replace("{url}", url) for name, value in (plain_env or {}).items()}
        plain = PlainAlembic(python, target.root, url, env, ini)
        for bot_step, plain_step in (
            (target.upgrade, ("upgrade", "head")),
            (lambda: target.downgrade("-1"), ("downgrade", "-1")),
            (lambda: target.downgrade("base"), ("downgrade", "base")),
        ):
            outcome = bot_step()
            assert outcome.state is RequestState.SUCCEEDED, outcome.error
            if (said := plain.run(*plain_step)) != "ok":
                raise AssertionError(f"plain alembic {plain_step}: {said}: {plain.close()[-2000:]}")
            bot_side = snapshot(target.database, version_table)
            assert bot_side == snapshot(other, version_table), plain_step
        plain.close()
    finally:
        drop_database(server, other)
