"""PostgreSQL's table-level lock modes, their conflicts, and what each makes others wait for.

From the documentation's "Explicit Locking" chapter (13.3.1, table 13.2
"Conflicting Lock Modes"). The application reads with ``ACCESS SHARE``
(plain ``SELECT``) and writes with ``ROW EXCLUSIVE`` (``INSERT``, ``UPDATE``,
``DELETE``), so a mode blocks the application's reads when it conflicts with
the first, and its writes when it conflicts with the second. Pure.
"""

from __future__ import annotations

from enum import StrEnum


class LockMode(StrEnum):
    """The eight table-level modes, weakest first (their order is their strength)."""

    ACCESS_SHARE = "ACCESS SHARE"
    ROW_SHARE = "ROW SHARE"
    ROW_EXCLUSIVE = "ROW EXCLUSIVE"
    SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
    SHARE = "SHARE"
    SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
    EXCLUSIVE = "EXCLUSIVE"
    ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"

    @property
    def strength(self) -> int:
        return list(LockMode).index(self)

    @property
    def pg_locks_name(self) -> str:
        """The name ``pg_locks.mode`` shows: ``AccessExclusiveLock``."""
        return "".join(word.capitalize() for word in self.value.split()) + "Lock"

    def conflicts_with(self, other: LockMode) -> bool:
        return other in CONFLICTS[self]

    @property
    def blocks_reads(self) -> bool:
        """Plain ``SELECT`` on the table waits while this is held."""
        return self.conflicts_with(LockMode.ACCESS_SHARE)

    @property
    def blocks_writes(self) -> bool:
        """``INSERT``, ``UPDATE`` and ``DELETE`` on the table wait while this is held."""
        return self.conflicts_with(LockMode.ROW_EXCLUSIVE)

    @property
    def waits(self) -> str:
        """What of the application waits, in an approver's words."""
        if self.blocks_reads:
            return "reads and writes wait"
        if self.blocks_writes:
            return "writes wait, reads go on"
        return "reads and writes go on"


# Table 13.2, row by row: X where the requested mode (the row) conflicts with a held one
# (the columns, in the same order: ACCESS SHARE … ACCESS EXCLUSIVE).
_CONFLICT_TABLE = """
ACCESS SHARE             . . . . . . . X
ROW SHARE                . . . . . . X X
ROW EXCLUSIVE            . . . . X X X X
SHARE UPDATE EXCLUSIVE   . . . X X X X X
SHARE                    . . X X . X X X
SHARE ROW EXCLUSIVE      . . X X X X X X
EXCLUSIVE                . X X X X X X X
ACCESS EXCLUSIVE         X X X X X X X X
"""


def _conflicts() -> dict[LockMode, frozenset[LockMode]]:
    table = {}
    for line in _CONFLICT_TABLE.strip().splitlines():
        cells = line.split()
        name, marks = " ".join(cells[:-8]), cells[-8:]
        table[LockMode(name)] = frozenset(
            mode for mode, mark in zip(LockMode, marks, strict=True) if mark == "X"
        )
    return table


CONFLICTS = _conflicts()
