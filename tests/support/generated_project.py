"""A generated Alembic project of N real revision files, laid out as ``alembic init`` lays one out.

The revisions are ``alembic_projects.generated_history``: a table every tenth
revision, then columns, indexes, a constraint or an UPDATE on it, each with a
real downgrade. env.py is the one ``alembic init`` writes (one transaction for
the whole upgrade, as plain Alembic runs it), and ``alembic.ini`` sits beside
it, so plain ``alembic upgrade head`` and migrate-bot run the very same project.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from commands.config.targets_file import parse_config
from commands.postgres.database_url import DatabaseUrl
from commands.targets import TargetHandle, open_target
from tests.support.alembic_projects import Rev, env_py, generated_history, write_revision

ENV_PY = env_py(transaction_per_migration=False)
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
    url = database.text()
    return open_target(config.target("bench"), {"BENCH_URL": url})


def generated_project(root: Path, count: int, history: list[Rev] | None = None) -> Path:
    """``root/migrations`` (env.py, versions/) with ``count`` revisions (or ``history``'s),
    and ``root/alembic.ini``; returns the script location."""
    location = root / "migrations"
    versions = location / "versions"
    versions.mkdir(parents=True)
    (location / "env.py").write_text(ENV_PY)
    (location / "script.py.mako").write_text("")
    (root / "alembic.ini").write_text(ALEMBIC_INI)
    for revision in history if history is not None else generated_history(count):
        write_revision(versions, revision)
    return location
