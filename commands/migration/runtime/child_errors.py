"""What migrate-bot's Alembic child says of a failure: where in the project, and what to do.

Loaded by ``child.py`` from its path (standard library only). A user reading
"No module named 'psycopg'" needs to know which step failed, which line of
*their* code raised it (the last frame in the project's files, not in
Alembic, SQLAlchemy or the child) and, where the cause is known, what to do:
a missing driver names one that is installed.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import traceback
from collections.abc import Callable
from typing import Any

MAX_MESSAGE = 2000
DRIVER_MODULES = {"psycopg", "psycopg2", "psycopg2cffi", "asyncpg", "pg8000"}
_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LIBRARY_MARKERS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(
        os.path.abspath(paths[name]) + os.sep for name in ("stdlib", "platstdlib") if name in paths
    )


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path.startswith(root) for root in roots)


def project_frame(error: BaseException, script_dir: str | None, workdir: str) -> str | None:
    """``file:line`` of the last frame of the project's own code in ``error``'s traceback:
    its script directory (even one shipped inside an installed package), else its working
    folder, else anywhere outside the standard library, installed packages and our files."""
    frames = [  # "<frozen …>", "<string>" and generated code are nobody's file
        (os.path.abspath(f.filename), f.lineno)
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith("<") and not _under(os.path.abspath(f.filename), (_HERE,))
    ]
    libraries = _library_roots()
    outside = [  # a virtualenv inside the project's folder is still not its code
        (path, line)
        for path, line in frames
        if not _under(path, libraries) and not any(m in path for m in _LIBRARY_MARKERS)
    ]
    scripts = [(p, n) for p, n in frames if script_dir and _under(p, (script_dir,))]
    workdir_frames = [(p, n) for p, n in outside if _under(p, (workdir,))]
    candidates = scripts or workdir_frames or outside
    if not candidates:
        return None
    path, line = candidates[-1]
    shown = os.path.relpath(path) if _under(path, (os.getcwd() + os.sep,)) else path
    return f"{shown}:{line}"


def _missing_module(error: BaseException) -> str | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ModuleNotFoundError) and current.name:
            return current.name.partition(".")[0]
        current = current.__cause__ or current.__context__
    return None


def hint(error: BaseException, url_driver: str | None, installed: list[str]) -> str | None:
    """What to do, where the cause is known (a missing driver or module, sync against async)."""
    missing = _missing_module(error)
    if missing:
        return _install_hint(missing, url_driver, installed)
    text = str(error)
    if type(error).__name__ == "UnsupportedOption":
        return f'write the URL for {url_driver} yourself, or set driver = "…" to another'
    if "asyncio extension requires an async driver" in text:
        asyncs = [d for d in installed if d in ("asyncpg", "psycopg")]
        fix = f'set driver = "{asyncs[0]}"' if asyncs else "install asyncpg there"
        return f"env.py makes an async engine but the URL's driver {url_driver} is not async: {fix}"
    if "greenlet_spawn has not been called" in text:
        syncs = [d for d in installed if d != "asyncpg"]
        fix = f'set driver = "{syncs[0]}"' if syncs else "install psycopg there"
        return f"env.py makes a sync engine but the URL's driver {url_driver} is async: {fix}"
    return None


def _install_hint(missing: str, url_driver: str | None, installed: list[str]) -> str:
    python = sys.executable
    if missing in DRIVER_MODULES:
        others = [d for d in installed if d != url_driver]
        instead = (
            f'set driver = "{others[0]}" ({others[0]} is installed there)'
            if others
            else "no other PostgreSQL driver is installed there"
        )
        return (
            f"the URL asks for {missing}, which is not installed in {python};"
            f" install it or {instead}"
        )
    if missing == "greenlet":
        return f"SQLAlchemy's asyncio needs greenlet: install sqlalchemy[asyncio] in {python}"
    return (
        f"{missing} is not installed in {python}: install the project's requirements there,"
        " or name the interpreter that has them with the target's python key"
    )


class PrintedTail:
    """Standard output passed through, its last line kept: an env.py that prints why and
    then calls ``sys.exit(1)`` (octavia's "Please use the octavia-db-manage command")
    leaves its reason there, not in the exception."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._tail = ""

    def write(self, text: str) -> int:
        self._tail = (self._tail + text)[-MAX_MESSAGE:]
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:  # flush, encoding, isatty…: the stream's
        return getattr(self._stream, name)

    def reset(self) -> None:
        """Forget what was printed (a new request begins)."""
        self._tail = ""

    def last_line(self) -> str:
        lines = [line.strip() for line in self._tail.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def describe(
    error: BaseException,
    *,
    step: str,
    script_dir: str | None,
    hint_of: Callable[[BaseException], str | None],
    printed: str = "",
) -> dict[str, Any]:
    """The error answer: the exception, the step, the project's line, the hint, the
    traceback; for an exit, the last line ``printed`` before it (its reason, usually)."""
    message = str(error)
    if isinstance(error, SystemExit) and printed and printed != message:
        message = f"{message} (the last line printed before it: {printed})"
    return {
        "type": type(error).__name__,
        "message": message[:MAX_MESSAGE],
        "step": step,
        "where": project_frame(error, script_dir, os.getcwd() + os.sep),
        "hint": hint_of(error),
        "traceback": "".join(traceback.format_exception(error)),
    }
