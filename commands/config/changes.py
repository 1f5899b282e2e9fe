"""A target's keys for changes across deploys: where its change files live, and its
standalone backfills (``[targets.NAME.backfills.BACKFILL]``).

The change files themselves are read when a change starts
(``commands.changes.change_file``), not at load: they are reviewed with the
application's code and may arrive after the bot started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from commands.config.alembic_project import AlembicProject
from commands.config.backfill import parse_backfills
from commands.config.table import ConfigTable

CHANGES_FOLDER = "changes"


def default_changes_dir(project: AlembicProject) -> Path:
    """``changes/`` beside ``alembic.ini``, else beside the ``script_location`` folder."""
    if project.config_file is not None:
        return project.config_file.parent / CHANGES_FOLDER
    if project.script_location is not None:
        return project.script_location.parent / CHANGES_FOLDER
    return Path(CHANGES_FOLDER)  # neither exists: the file's problems name them already


def parse_change_keys(table: ConfigTable, project: AlembicProject) -> dict[str, Any]:
    """``changes_dir`` and ``backfills``; raises ``ConfigError`` naming the key."""
    return {
        "changes_dir": table.path("changes_dir") or default_changes_dir(project),
        "backfills": parse_backfills(table),
    }
