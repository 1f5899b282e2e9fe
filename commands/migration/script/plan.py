"""What a plan is: the revisions an upgrade or downgrade would run, with their SQL;
where a target stands; its history. Plain data, read by views without I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from commands.migration.script.revision_graph import Direction, Revision, RevisionGraph


@dataclass(frozen=True)
class Plan:
    """Revisions to apply (or undo) on a target, in order, with their SQL."""

    target: str
    direction: Direction
    current: tuple[str, ...]
    destination: tuple[str, ...]
    revisions: tuple[Revision, ...]
    sql: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.revisions


@dataclass(frozen=True)
class Status:
    """Where a target's database stands against its project."""

    target: str
    database: str
    server_version: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[Revision, ...]

    @property
    def at_head(self) -> bool:
        return not self.pending and set(self.current) == set(self.heads)


@dataclass(frozen=True)
class HistoryEntry:
    revision: Revision
    applied: bool
    current: bool
    head: bool


def history_entries(graph: RevisionGraph, current: tuple[str, ...]) -> list[HistoryEntry]:
    applied = graph.applied(current)
    heads = set(graph.heads)
    return [
        HistoryEntry(
            revision=graph[rev], applied=rev in applied, current=rev in current, head=rev in heads
        )
        for rev in reversed(graph.order)
    ]
