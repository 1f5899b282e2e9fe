"""Which revisions an ordinary upgrade may not apply while a change is in flight. Pure.

A ``migrate`` phase owns the revisions between the previous ``migrate`` phase's
revision (excluded) and its own (included). While any phase before it is not
done (a deploy not confirmed, a backfill not finished, a gate open), those
revisions, and everything after them, belong to the change: ``/migrate
upgrade`` stops before the first of them and says why. When the phase is
current, its revisions may be applied by its own request or an ordinary one
alike: the earlier phases are done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from commands.changes.change_file import PhaseKind
from commands.changes.model import Change
from commands.migration.script.revision_graph import RevisionGraph


@dataclass(frozen=True)
class Block:
    """The first revision a plan may not apply, and the change phase that holds it."""

    revision: str
    change: Change
    phase: int  # the migrate phase the revision belongs to
    waiting: int  # the earliest phase before it that is not done

    @property
    def reason(self) -> str:
        owner = self.change.phases[self.phase].spec
        open_phase = self.change.phases[self.waiting].spec
        return (
            f"{self.revision} belongs to phase {self.phase + 1} ({owner.name}) of change"
            f" {self.change.name} ({self.change.id}), which waits for phase"
            f" {self.waiting + 1} ({open_phase.name}, {open_phase.kind.value}):"
            f" {open_phase.waits_for}"
        )


def first_blocked(
    revisions: Sequence[str], changes: Iterable[Change], graph: RevisionGraph
) -> Block | None:
    """The first of ``revisions`` (a plan's, in order) held back by a change, if any."""
    held = held_revisions(changes, graph)
    for revision in revisions:
        if revision in held:
            return Block(revision, *held[revision])
    return None


def held_revisions(
    changes: Iterable[Change], graph: RevisionGraph
) -> dict[str, tuple[Change, int, int]]:
    """Each held revision, with its change, its phase and the phase it waits for."""
    held: dict[str, tuple[Change, int, int]] = {}
    for change in changes:
        waiting = change.current
        if waiting is None:
            continue
        owned_before: set[str] = set()
        for index, record in enumerate(change.phases):
            revision = record.spec.revision
            if record.spec.kind is not PhaseKind.MIGRATE or revision not in graph.revisions:
                continue
            mine = graph.applied([revision]) - owned_before
            if index > waiting:
                for rev in mine | _after(graph, mine):
                    held.setdefault(rev, (change, index, waiting))
            owned_before |= mine
    return held


def _after(graph: RevisionGraph, revisions: set[str]) -> set[str]:
    found: set[str] = set()
    for revision in revisions:
        found |= graph.descendants(revision)
    return found
