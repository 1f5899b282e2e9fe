"""Which URL form a target's env.py gets, said before anything runs (``migrate-bot targets``).

The driver the user named (the target's ``driver`` key, or the URL's own) is
known here; otherwise the project's interpreter is asked the question the
child asks itself (``postgres/drivers.py`` run as a script: no import of
SQLAlchemy, a few tens of milliseconds), once per interpreter and env.py.
"""

from __future__ import annotations

import configparser
import functools
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from commands.config.alembic_project import AlembicProject
from commands.config.targets_file import TargetConfig
from commands.postgres import drivers

PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EnvPyDriver:
    """The driver env.py's URL names (None: none usable), and why."""

    driver: str | None
    reason: str

    def describe(self) -> str:
        """'postgresql+asyncpg:// (installed; env.py makes an async engine)'."""
        scheme = f"postgresql+{self.driver}://" if self.driver else "postgresql://"
        return f"{scheme} ({self.reason})"


def target_env_py_driver(
    target: TargetConfig, environ: Mapping[str, str] = os.environ
) -> EnvPyDriver:
    """What a configured target's env.py gets, the URL's driver read from the environment
    when it is set (the URL itself is not parsed: no server started, nothing shown)."""
    url = environ.get(target.database_url_env or "", "")
    return env_py_driver(target.alembic, drivers.scheme_driver(url) if url else None)


def env_py_driver(project: AlembicProject, url_driver: str | None) -> EnvPyDriver:
    """The driver env.py will get: the key's, the URL's, else the interpreter's choice."""
    if project.driver:
        return EnvPyDriver(project.driver, "the target's driver key")
    if url_driver:
        return EnvPyDriver(url_driver, "named by the URL")
    return _probe(project.python, _env_py(project))


def _env_py(project: AlembicProject) -> str | None:
    """Where env.py is: the target's ``script_location``, else alembic.ini's."""
    if project.script_location is not None:
        return str(project.script_location / "env.py")
    if project.config_file is None:
        return None
    parser = configparser.ConfigParser(defaults={"here": str(project.config_file.parent)})
    try:
        parser.read(project.config_file, encoding="utf-8")
        location = parser.get(project.section, "script_location", fallback=None)
    except configparser.Error:
        return None
    if not location:
        return None
    if ":" in location:  # package:path, found by the interpreter that has the package
        return location
    return str((project.working_dir or project.config_file.parent) / location / "env.py")


@functools.cache
def _probe(python: str, env_py: str | None) -> EnvPyDriver:
    command = [python, "-I", drivers.__file__, *([env_py] if env_py else [])]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=True
        )
        found = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return EnvPyDriver(None, f"cannot ask {python}: {type(exc).__name__}")
    return EnvPyDriver(found.get("driver"), str(found.get("reason", "")))
