"""Interpreters with only some PostgreSQL drivers, for the compatibility suite.

An application's virtualenv often has SQLAlchemy and one driver: psycopg2, or
psycopg, or asyncpg. ``interpreter`` makes such a virtualenv whose
site-packages links the named distributions, and nothing else, from the
bot's own environment (``make`` installs them all: the dev extras carry
psycopg2-binary and asyncpg). It takes milliseconds and no network, so each
test session builds its own.
"""

from __future__ import annotations

import importlib.metadata
import venv
from pathlib import Path

ALEMBIC = ("sqlalchemy", "alembic", "mako", "markupsafe", "typing_extensions")
ONLY = {
    "psycopg2": ("psycopg2-binary",),
    "psycopg": ("psycopg", "psycopg-binary", "greenlet"),
    "asyncpg": ("asyncpg", "greenlet"),
}


def _top_levels(distribution: importlib.metadata.Distribution) -> set[str]:
    """The entries a distribution puts at the top of site-packages (its packages,
    modules, ``.libs`` folders and its ``.dist-info``)."""
    tops = {Path(str(f)).parts[0] for f in distribution.files or ()}
    return {top for top in tops if top not in ("..", "__pycache__")}


def interpreter(folder: Path, driver: str) -> Path:
    """``folder``'s virtualenv with Alembic, SQLAlchemy and ``driver`` only; its python."""
    if not (folder / "bin" / "python").exists():
        venv.create(folder, with_pip=False, symlinks=True)
        site = next((folder / "lib").glob("python*/site-packages"))
        for name in (*ALEMBIC, *ONLY[driver]):
            distribution = importlib.metadata.distribution(name)
            for top in _top_levels(distribution):
                (site / top).symlink_to(Path(str(distribution.locate_file(top))))
    return folder / "bin" / "python"
