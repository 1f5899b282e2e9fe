"""The plan fingerprint: what an approver saw, reduced to something checkable.

An approval binds to it. At run time it is computed again from the project
on disk and the database as they are then; any difference refuses the run,
and ``describe_changes`` says what moved, in words an approver can act on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from audit.chain import canonical_json
from commands.errors import RevisionError
from commands.migration.script.plan import Plan, revisions_text
from commands.migration.script.revision_graph import Direction


@dataclass(frozen=True)
class RevisionFile:
    """One revision of the plan and the sha256 of its file's bytes."""

    id: str
    sha256: str


@dataclass(frozen=True)
class MemberPlan:
    """One fleet member's part of a set plan: where it starts, where it goes and the
    revisions (ids, in order) it runs; their files' hashes are the set's ``revisions``."""

    name: str
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    revisions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "from": list(self.from_revisions),
            "to": list(self.to_revisions),
            "revisions": list(self.revisions),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemberPlan:
        return cls(data["name"], tuple(data["from"]), tuple(data["to"]), tuple(data["revisions"]))


@dataclass(frozen=True)
class PlanFingerprint:
    """Target, action, from/to revisions, ordered revisions with file hashes (and the
    backup, for a restore). A fleet's set plan adds its ``members``, each with its
    starting revision; its ``revisions`` are every distinct revision any member runs."""

    target: str
    action: str
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    revisions: tuple[RevisionFile, ...]
    backup: str | None = None
    backup_sha256: str | None = None
    members: tuple[MemberPlan, ...] = ()

    @cached_property
    def digest(self) -> str:
        """sha256 over every field: the value an approval names."""
        return hashlib.sha256(canonical_json(self.to_json()).encode()).hexdigest()

    @property
    def short(self) -> str:
        return self.digest[:12]

    @property
    def revision_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.revisions)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "action": self.action,
            "from": list(self.from_revisions),
            "to": list(self.to_revisions),
            "revisions": [{"id": r.id, "sha256": r.sha256} for r in self.revisions],
            "backup": self.backup,
            "backup_sha256": self.backup_sha256,
            # only a fleet's: a single target's digest stays what it always was
            **({"members": [m.to_json() for m in self.members]} if self.members else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanFingerprint:
        return cls(
            target=data["target"],
            action=data["action"],
            from_revisions=tuple(data["from"]),
            to_revisions=tuple(data["to"]),
            revisions=tuple(RevisionFile(r["id"], r["sha256"]) for r in data["revisions"]),
            backup=data.get("backup"),
            backup_sha256=data.get("backup_sha256"),
            members=tuple(MemberPlan.from_json(m) for m in data.get("members", ())),
        )


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes; raises ``RevisionError`` if it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise RevisionError(f"cannot read revision file {path}: {exc.strerror}") from None


def fingerprint_plan(plan: Plan) -> PlanFingerprint:
    """The fingerprint of an upgrade or downgrade plan, hashing each revision file now."""
    action = "upgrade" if plan.direction is Direction.UP else "downgrade"
    return PlanFingerprint(
        target=plan.target,
        action=action,
        from_revisions=plan.current,
        to_revisions=plan.destination,
        revisions=tuple(RevisionFile(r.id, file_sha256(r.path)) for r in plan.revisions),
    )


def fingerprint_restore(
    *,
    target: str,
    backup: str,
    backup_sha256: str,
    from_revisions: tuple[str, ...],
    to_revisions: tuple[str, ...],
) -> PlanFingerprint:
    """The fingerprint of restoring ``backup`` (whose content hashes to ``backup_sha256``)."""
    return PlanFingerprint(
        target=target,
        action="restore",
        from_revisions=from_revisions,
        to_revisions=to_revisions,
        revisions=(),
        backup=backup,
        backup_sha256=backup_sha256,
    )


def describe_changes(approved: PlanFingerprint, now: PlanFingerprint) -> list[str]:
    """What differs between two fingerprints, one sentence per difference (empty: same)."""
    changes: list[str] = []
    if approved.target != now.target:
        changes.append(f"the target changed from {approved.target} to {now.target}")
    if approved.action != now.action:
        changes.append(f"the action changed from {approved.action} to {now.action}")
    if approved.from_revisions != now.from_revisions:
        changes.append(
            f"the database moved from {revisions_text(approved.from_revisions)}"
            f" to {revisions_text(now.from_revisions)}"
        )
    if approved.to_revisions != now.to_revisions:
        changes.append(
            f"the destination changed from {revisions_text(approved.to_revisions)}"
            f" to {revisions_text(now.to_revisions)}"
        )
    changes += _revision_changes(approved.revisions, now.revisions)
    changes += _member_changes(approved.members, now.members)
    if (approved.backup, approved.backup_sha256) != (now.backup, now.backup_sha256):
        if approved.backup != now.backup:
            changes.append(f"the backup changed from {approved.backup} to {now.backup}")
        else:
            changes.append(f"backup {now.backup}'s content changed")
    return changes


def _revision_changes(
    approved: tuple[RevisionFile, ...], now: tuple[RevisionFile, ...]
) -> list[str]:
    before = {r.id: r.sha256 for r in approved}
    after = {r.id: r.sha256 for r in now}
    changes = [f"a new revision {rev} was added to the plan" for rev in after if rev not in before]
    changes += [f"revision {rev} is no longer in the plan" for rev in before if rev not in after]
    changes += [
        f"revision {rev}'s file changed"
        for rev in after
        if rev in before and before[rev] != after[rev]
    ]
    common_before = [r.id for r in approved if r.id in after]
    common_after = [r.id for r in now if r.id in before]
    if common_before != common_after:
        changes.append("the revisions would run in a different order")
    return changes


def _member_changes(approved: tuple[MemberPlan, ...], now: tuple[MemberPlan, ...]) -> list[str]:
    before = {m.name: m for m in approved}
    after = {m.name: m for m in now}
    changes = [f"member {name} joined the fleet" for name in after if name not in before]
    changes += [f"member {name} left the fleet" for name in before if name not in after]
    changes += [
        f"member {name} moved from {revisions_text(before[name].from_revisions)}"
        f" to {revisions_text(plan.from_revisions)}"
        for name, plan in after.items()
        if name in before and before[name].from_revisions != plan.from_revisions
    ]
    return changes
