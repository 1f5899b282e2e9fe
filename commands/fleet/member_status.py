"""Where a fleet's members stand, as plain data: read by ``status``, drawn by the views."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commands.migration.script.plan import Status

SURVEY_PARALLEL = 8  # members read at once (read-only: a connection each)
NAMES_IN_LINE = 4


@dataclass(frozen=True)
class MemberStatus:
    """One member: its status, or why it could not be read."""

    name: str
    status: Status | None
    error: str | None = None


@dataclass(frozen=True)
class FleetStatus:
    """Every member's status, in the fleet's order, and the project's heads."""

    target: str
    members: tuple[MemberStatus, ...]

    @property
    def heads(self) -> tuple[str, ...]:
        return next((m.status.heads for m in self.members if m.status), ())

    @property
    def by_revision(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(revisions, members at them), the most common first."""
        found: dict[tuple[str, ...], list[str]] = {}
        for member in self.members:
            if member.status is not None:
                found.setdefault(member.status.current, []).append(member.name)
        return sorted(((rev, tuple(names)) for rev, names in found.items()), key=_most)

    @property
    def behind(self) -> tuple[MemberStatus, ...]:
        return tuple(m for m in self.members if m.status is not None and not m.status.at_head)

    @property
    def unreachable(self) -> tuple[MemberStatus, ...]:
        return tuple(m for m in self.members if m.status is None)

    @property
    def at_head(self) -> int:
        return sum(1 for m in self.members if m.status is not None and m.status.at_head)


def _most(entry: tuple[tuple[str, ...], tuple[str, ...]]) -> tuple[int, tuple[str, ...]]:
    return (-len(entry[1]), entry[0])


def names(members: Sequence[str], shown: int = NAMES_IN_LINE) -> str:
    """``acme, globex, initech and 12 more``."""
    head = ", ".join(members[:shown])
    return f"{head} and {len(members) - shown} more" if len(members) > shown else head
