"""The revision graph of an Alembic project, as plain data and pure functions.

Pending work is computed from ancestry, not by walking a list, so it is right
across branches and merge points: to reach a target, apply every ancestor of
the target that is not yet an ancestor of what the database holds, parents
first. ``depends_on`` links count as ancestry, as they do for Alembic.

Where parents-first leaves a choice (parallel branches), the order is the one
the revisions are given in: the child lists them in the order Alembic itself
applies them from base, so the bot runs branches in plain Alembic's order (one
branch through to the merge point, then the other), not in an order of its own.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from commands.errors import RevisionError

BASE = "base"
HEAD = "head"
HEADS = "heads"  # every head, as Alembic's `upgrade heads`
_RELATIVE = re.compile(r"^-(\d+)$")
MIN_PREFIX = 4


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class Revision:
    """One revision file as the child process described it."""

    id: str
    down_revisions: tuple[str, ...]
    dependencies: tuple[str, ...]
    branch_labels: tuple[str, ...]
    message: str
    path: str

    @property
    def parents(self) -> tuple[str, ...]:
        return self.down_revisions + self.dependencies

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Revision:
        return cls(
            id=data["revision"],
            down_revisions=tuple(data["down_revisions"]),
            dependencies=tuple(data["dependencies"]),
            branch_labels=tuple(data["branch_labels"]),
            message=data["message"],
            path=data["path"],
        )


class RevisionGraph:
    """All revisions of a project, with ancestry queries and one order for every plan:
    parents first, otherwise the order ``revisions`` come in."""

    def __init__(self, revisions: Iterable[Revision]) -> None:
        self.revisions: dict[str, Revision] = {r.id: r for r in revisions}
        for revision in self.revisions.values():
            for parent in revision.parents:
                if parent not in self.revisions:
                    raise RevisionError(f"revision {revision.id} names unknown parent {parent}")
        self._children: dict[str, list[str]] = {r: [] for r in self.revisions}
        for revision in self.revisions.values():
            for parent in revision.parents:
                self._children[parent].append(revision.id)
        self.order: tuple[str, ...] = self._topological_order()
        self._position = {rev: i for i, rev in enumerate(self.order)}

    def _topological_order(self) -> tuple[str, ...]:
        """Parents before children; otherwise the order the revisions were given in
        (the same input, the same order)."""
        given = {rev: i for i, rev in enumerate(self.revisions)}
        waiting = {rev: len(set(r.parents)) for rev, r in self.revisions.items()}
        ready = [(given[rev], rev) for rev, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, rev = heapq.heappop(ready)
            order.append(rev)
            for child in set(self._children[rev]):
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (given[child], child))
        if len(order) != len(self.revisions):
            raise RevisionError("the revision graph has a cycle")
        return tuple(order)

    def __getitem__(self, rev: str) -> Revision:
        return self.revisions[rev]

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(rev for rev in self.order if not self._children[rev])

    def ancestors(self, revs: Iterable[str]) -> set[str]:
        """Every revision that must be applied before ``revs`` (``revs`` excluded)."""
        found: set[str] = set()
        stack = [p for rev in revs for p in self.revisions[rev].parents]
        while stack:
            rev = stack.pop()
            if rev not in found:
                found.add(rev)
                stack.extend(self.revisions[rev].parents)
        return found

    def descendants(self, rev: str) -> set[str]:
        """Every revision that has ``rev`` among its ancestors."""
        found: set[str] = set()
        stack = list(self._children[rev])
        while stack:
            child = stack.pop()
            if child not in found:
                found.add(child)
                stack.extend(self._children[child])
        return found

    def applied(self, current: Iterable[str]) -> set[str]:
        """What the database holds when its version table lists ``current``."""
        heads = list(current)
        return set(heads) | self.ancestors(heads)

    def heads_of(self, applied: Iterable[str]) -> tuple[str, ...]:
        """The version-table rows for a set of applied revisions: its maximal members."""
        chosen = set(applied)
        covered = self.ancestors(chosen)
        return self.sorted(chosen - covered)

    def rows_state(self, rows: Sequence[str]) -> tuple[str, ...]:
        """A version table's rows as the state they stand for: without a row that another
        row descends from. Alembic keeps such a row after some downgrades through
        ``depends_on`` (Neutron's 89ab9a816d70 beside 4bcd4df1f426, which depends on it);
        the applied revisions are the same. Rows this project lacks are left as they are."""
        if not set(rows) <= self.revisions.keys():
            return tuple(rows)
        return self.heads_of(rows)

    def sorted(self, revs: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(revs, key=self._position.__getitem__))

    def resolve(self, name: str) -> str:
        """A full revision id from an id, a unique prefix, or ``head`` if there is one head."""
        if name == HEAD:
            heads = self.heads
            if len(heads) != 1:
                listed = ", ".join(heads) or "none"
                raise RevisionError(
                    f"the project has {len(heads)} heads ({listed}): name the revision to go"
                    f" to, or `{HEADS}` for all of them"
                )
            return heads[0]
        if "@" in name:  # Alembic's branch@head, branch@-1, rev@+1
            raise RevisionError(
                f"{name!r}: Alembic's branch@ goals are not taken here; name the revision to"
                f" go to (an id or a prefix), or `{HEADS}` for every head"
            )
        if name in self.revisions:
            return name
        matches = (
            [rev for rev in self.revisions if rev.startswith(name)]
            if len(name) >= MIN_PREFIX
            else []
        )
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise RevisionError(f"{name!r} matches several revisions: {', '.join(sorted(matches))}")
        raise RevisionError(f"no revision {name!r} in this project")

    def check_current(self, current: Sequence[str]) -> None:
        """Refuse a database whose version table names revisions this project lacks."""
        unknown = [rev for rev in current if rev not in self.revisions]
        if unknown:
            raise RevisionError(
                f"the database is at {', '.join(unknown)}, which this project does not have"
                " (is the deployed code older than the database?)"
            )

    def upgrade_path(self, current: Sequence[str], target: str) -> tuple[str, ...]:
        """Revisions to apply, in order, to bring ``current`` up to ``target`` (``heads``:
        up to every head)."""
        self.check_current(current)
        goals = self.heads if target == HEADS else (self.resolve(target),)
        needed = (set(goals) | self.ancestors(goals)) - self.applied(current)
        return self.sorted(needed)

    def downgrade_path(self, current: Sequence[str], target: str) -> tuple[str, ...]:
        """Revisions to undo, in order, to bring ``current`` down to ``target``.

        ``target`` is ``base``, a revision the database holds, or ``-N`` (N steps
        back from a single current head). Going down to a revision undoes what descends
        from its children in its own line, as Alembic does: a revision that only
        ``depends_on`` it stays while nothing it descends from is undone (an expand/contract
        history's contract revision, when going down to its expand revision).
        """
        self.check_current(current)
        applied = self.applied(current)
        relative = _RELATIVE.match(target)
        if relative:
            return self._walk_down(current, int(relative.group(1)), len(applied))
        if target == BASE:
            doomed = applied
        else:
            goal = self.resolve(target)
            if goal not in applied:
                raise RevisionError(
                    f"{goal} is not applied to this database: nothing to go back to"
                )
            line = [c for c in self._children[goal] if goal in self.revisions[c].down_revisions]
            doomed = applied & (set(line) | {d for c in line for d in self.descendants(c)})
            if not doomed and goal not in current:
                raise RevisionError(  # as Alembic: "not a valid downgrade target"
                    f"{goal} is not a revision to go down to from {', '.join(current)}: what is"
                    " applied above it only depends_on it (Alembic refuses it too); name a"
                    " revision below the current one in its own line"
                )
        return tuple(reversed(self.sorted(doomed)))

    def _walk_down(self, current: Sequence[str], steps: int, applied: int) -> tuple[str, ...]:
        """``-N`` as Alembic walks it: N steps down the single line below the current
        revision, each to its one parent. Where one of the N revisions undone is a merge
        point, the last one included (undoing it would leave its parents as two heads, no
        single revision N below), the walk is ambiguous and refused, as Alembic refuses it
        ("Ambiguous walk"); undoing the first revision ends at base."""
        if not current:
            raise RevisionError(
                f"-{steps} has nothing to undo: no revision is applied to this database (base)"
            )
        if len(current) != 1:
            raise RevisionError(
                f"-{steps} needs one current revision and this database is at {len(current)}"
                f" ({', '.join(current)}): name the revision to go down to"
            )
        if steps == 0 or steps > applied:
            raise RevisionError(f"cannot go back {steps} from {applied} applied revisions")
        walked = [current[0]]
        while True:
            parents = self.revisions[walked[-1]].down_revisions
            if len(parents) > 1:
                raise RevisionError(
                    f"-{steps} is ambiguous: {walked[-1]} merges {', '.join(parents)}"
                    " (Alembic refuses this walk too): name the revision to go down to"
                )
            if len(walked) == steps:
                return tuple(walked)
            if not parents:
                raise RevisionError(f"cannot go back {steps}: {walked[-1]} is the first revision")
            walked.append(parents[0])

    def after(
        self, current: Sequence[str], direction: Direction, steps: Sequence[str]
    ) -> tuple[str, ...]:
        """The version-table rows once ``steps`` have been applied or undone."""
        applied = self.applied(current)
        if direction is Direction.UP:
            return self.heads_of(applied | set(steps))
        return self.heads_of(applied - set(steps))
