"""Schemas replayed from a project's history, kept on disk so the next check costs only the
live side.

A replayed schema depends only on the project's files and the revision it
was replayed to (and, in how PostgreSQL prints definitions, the server's
major version), so it is kept under a key made of those. The cache lives in
a folder beside the state file (``<state_path>.schema-cache/``): it is
derived data, rebuilt by one replay, never evidence, so it stays out of the
audit log and out of a shared state database; each bot process that checks
drift (a worker of a shared deployment included) keeps its own. The newest
``KEEP`` entries stay on disk, and the last ``IN_MEMORY`` are also held in
the process, so the members of a fleet at one revision are read once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from commands.config.alembic_project import AlembicProject
from commands.config.targets_file import Config
from commands.migration.runtime.runner import ProjectState
from commands.schema.model import Schema

KEEP = 64
IN_MEMORY = 16
_recent: OrderedDict[str, Schema] = OrderedDict()
_recent_lock = threading.Lock()
_replaying: dict[str, threading.Lock] = {}


def cache_folder(state_path: Path) -> Path:
    """Where the replay cache of the bot whose state file is ``state_path`` lives."""
    return state_path.with_name(state_path.name + ".schema-cache")


def replay_cache(config: Config) -> ReplayCache:
    """The replay cache of the bot ``config`` describes (beside its state file)."""
    return ReplayCache(cache_folder(config.bot.state_path))


@dataclass(frozen=True)
class ReplayCache:
    """Replayed schemas by key: in this process, and in ``folder`` when there is one."""

    folder: Path | None

    def get(self, key: str) -> Schema | None:
        """The schema kept under ``key``, or None (an unreadable entry counts as none)."""
        with _recent_lock:
            if key in _recent:
                _recent.move_to_end(key)
                return _recent[key]
        if self.folder is None:
            return None
        path = self.folder / f"{key}.json"
        try:
            schema = Schema.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with contextlib.suppress(OSError):
            path.touch()  # the newest stay
        _remember(key, schema)
        return schema

    def put(self, key: str, schema: Schema) -> None:
        """Keep ``schema`` under ``key`` (on disk written whole, then renamed into place)."""
        _remember(key, schema)
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".replay-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(schema.to_json(), out)
        os.replace(temporary, self.folder / f"{key}.json")
        self._trim()

    def _trim(self) -> None:
        assert self.folder is not None
        entries = sorted(self.folder.glob("*.json"), key=_mtime, reverse=True)
        for stale in entries[KEEP:]:
            with contextlib.suppress(OSError):
                stale.unlink()


def replaying(key: str) -> threading.Lock:
    """Held while ``key`` is replayed, so a fleet's members checked at once replay it once."""
    with _recent_lock:
        return _replaying.setdefault(key, threading.Lock())


def _remember(key: str, schema: Schema) -> None:
    with _recent_lock:
        _recent[key] = schema
        _recent.move_to_end(key)
        while len(_recent) > IN_MEMORY:
            _recent.popitem(last=False)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def replay_key(
    project: AlembicProject, state: ProjectState, revisions: Iterable[str], server_major: int
) -> str:
    """sha256 over what the replayed schema depends on: the revision files replayed, env.py
    and alembic.ini (their bytes), how env.py is run (ini section, ``-x`` arguments, what
    its environment and app are), the revisions and the server's major version."""
    digest = hashlib.sha256()
    handed = (
        *(f"{name}={value}" for name, value in sorted(project.child_env.items())),
        *project.url_env_names,
        *(f"{name}:{part}" for name, part in sorted(project.url_env_parts.items())),
        *project.url_ini_options,
        project.flask_app or "",
        project.driver or "",
    )
    for part in (project.section, *project.x_args, str(server_major), *handed):
        digest.update(part.encode() + b"\0")
    files = [state.graph[rev].path for rev in revisions]
    if state.script_dir:
        files.append(os.path.join(state.script_dir, "env.py"))
    if project.config_file is not None:
        files.append(str(project.config_file))
    for revision in revisions:
        digest.update(revision.encode() + b"\0")
    for path in files:
        digest.update(_file_digest(path).encode() + b"\0")
    return digest.hexdigest()


def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"
