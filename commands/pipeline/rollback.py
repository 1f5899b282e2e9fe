"""The runbook's ways back after a failed or aborted run.

(a) Alembic back to where the run started — when the database moved — and
(b) the pre-run backup — when one was taken. Each is offered as a new
request that needs its own approval; nothing here runs anything.
"""

from __future__ import annotations

from dataclasses import replace

from commands.migration.script.plan import Plan
from commands.migration.script.revision_file import reversible
from commands.migration.script.revision_graph import Direction
from commands.pipeline.progress import RollbackOffer, RunOutcome


def rollback_offers(outcome: RunOutcome, plan: Plan) -> RunOutcome:
    """``outcome`` with the ways back a failed or aborted run has (none on success)."""
    if outcome.succeeded:
        return outcome
    return replace(outcome, rollback=offers_from(outcome, plan))


def offers_from(outcome: RunOutcome, plan: Plan) -> tuple[RollbackOffer, ...]:
    """Back to where the run started (when the database moved, and the upgrade it undoes
    has a real ``downgrade()`` in each revision applied: Neutron's have none), and its
    backup: for a run that ended badly, or one whose watch saw the application regress."""
    offers: list[RollbackOffer] = []
    moved = outcome.database_revisions is None or set(outcome.database_revisions) != set(
        outcome.from_revisions
    )
    undone = {applied.revision for applied in outcome.applied}
    hollow = [r.id for r in plan.revisions if r.id in undone and not reversible(r.path)]
    if (  # Alembic can take it back only through downgrade()s that do something
        moved
        and outcome.kind != "restore"
        and len(outcome.from_revisions) <= 1
        and not (hollow and plan.direction is Direction.UP)
    ):
        start = outcome.from_revisions[0] if outcome.from_revisions else "base"
        kind = "downgrade" if plan.direction is Direction.UP else "upgrade"
        offers.append(
            RollbackOffer(
                kind=kind,
                goal=start,
                description=f"{kind} {outcome.target} back to {start}, where the run started",
            )
        )
    if outcome.backup is not None:
        backup_id = outcome.backup["id"]
        offers.append(
            RollbackOffer(
                kind="restore",
                goal=backup_id,
                description=f"restore backup {backup_id}, taken just before the run"
                " (rows written since are lost)",
            )
        )
    return tuple(offers)
