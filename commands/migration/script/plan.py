"""What a plan is: the revisions an upgrade or downgrade would run, with their SQL;
where a target stands; its history. Plain data, read by views without I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from commands.migration.script.revision_graph import Direction, Revision, RevisionGraph


@dataclass(frozen=True)
class Plan:
    """Revisions to apply (or undo) on a target, in order, with their SQL.

    The SQL is a preview, rendered offline: a revision whose SQL cannot be
    rendered (it reads data, sniffs the dialect) is in ``unavailable`` with
    the reason, and runs online like any other. ``version_table`` is where
    env.py keeps the revisions (``schema.name`` when not the default).
    """

    target: str
    direction: Direction
    current: tuple[str, ...]
    destination: tuple[str, ...]
    revisions: tuple[Revision, ...]
    sql: Mapping[str, str] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    version_table: str = "alembic_version"

    @property
    def is_empty(self) -> bool:
        return not self.revisions

    @property
    def unrendered(self) -> tuple[Revision, ...]:
        """The revisions whose SQL could not be rendered offline."""
        return tuple(r for r in self.revisions if r.id in self.unavailable)

    def sql_note(self, revision: Revision) -> str | None:
        """'SQL not available offline: <reason>; read versions/….py', or None."""
        reason = self.unavailable.get(revision.id)
        if reason is None:
            return None
        return f"SQL not available offline: {reason}; read {revision_file_name(revision)}"


AT_BASE = "base (no revision applied)"  # a database may hold tables and no revision yet


def revisions_text(revisions: Sequence[str]) -> str:
    """The revisions a database is at, as the bot names them anywhere: ``a1, b2``, or base."""
    return ", ".join(revisions) or AT_BASE


def revision_file_name(revision: Revision) -> str:
    """``versions/083_add_x.py``: the revision file under its folder, as a reader finds it."""
    path = Path(revision.path)
    return f"{path.parent.name}/{path.name}"


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
