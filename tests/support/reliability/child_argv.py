"""The command lines of a process's descendants, sampled while it works (Linux /proc).

A password on a command line is readable by every user of the machine (``ps``);
migrate-bot hands it to libpq tools as ``PGPASSWORD`` and to Alembic's child in
its environment instead. ``ChildArgv`` keeps every distinct argv it sees under
a process until stopped, so a test can search them. Sampling may miss a child
that lives less than the interval; the ones that matter (Alembic, pg_dump,
pg_restore) live for seconds.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")


def children_of(pid: int) -> list[int]:
    """``pid``'s children, from each of its threads' ``children`` file: no walk of all of
    /proc, so a round of sampling stays short enough to see a child of a few ms."""
    found: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(root: int) -> list[int]:
    found, frontier = [], [root]
    while frontier:
        children = children_of(frontier.pop())
        found += children
        frontier += children
    return found


def argv_of(pid: int) -> tuple[str, ...] | None:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part) or None


class ChildArgv:
    """``with ChildArgv(pid) as seen: ...``; then ``seen.argv``: every distinct argv."""

    def __init__(self, root: int, interval: float = 0.02) -> None:
        self.root = root
        self.interval = interval
        self.argv: set[tuple[str, ...]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="child-argv", daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in descendants(self.root):
                argv = argv_of(pid)
                if argv:
                    self.argv.add(argv)

    def __enter__(self) -> ChildArgv:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)

    def programs(self) -> set[str]:
        """What ran: argv[0]'s base name, and the module for ``python -m``."""
        names = set()
        for argv in self.argv:
            module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else None
            names.add(Path(argv[0]).name + (f" -m {module}" if module else ""))
        return names
