"""The ``changes`` pre-flight check: an ordinary upgrade may not apply what a change in
flight holds back.

It runs with every upgrade's pre-flight, at the ask and again before the run,
so a change started after a request was approved still stops it. A plan that
reaches a held revision fails, naming the change, the phase that owns the
revision and what the phase before it waits for; intake then plans an upgrade
to head again up to the last revision allowed (``stop_before``), and the check
says where and why that plan stops.
"""

from __future__ import annotations

from typing import Any

from audit.store import EventStore
from commands.changes.guard import Block, first_blocked, held_revisions
from commands.changes.ledger import ChangeLedger
from commands.checks.context import PreflightContext
from commands.checks.framework import Check, CheckResult, Report, Verdict
from commands.migration.script.revision_graph import Direction

NAME = "changes"


def changes_check(store: EventStore) -> Check[PreflightContext]:
    """The check, reading the changes in flight from ``store``."""

    def check(context: PreflightContext) -> CheckResult:
        plan = context.plan
        if plan.direction is not Direction.UP:
            return CheckResult(NAME, Verdict.SKIP, "a downgrade: changes hold back upgrades only")
        changes = ChangeLedger(store).changes(target=context.handle.name, in_flight=True)
        if not changes:
            return CheckResult(NAME, Verdict.PASS, "no change in flight on this target")
        graph = context.state.graph
        block = first_blocked([r.id for r in plan.revisions], changes, graph)
        if block is not None:
            return CheckResult(NAME, Verdict.FAIL, block.reason, data=_data(block))
        following = [r for r in graph.order if r not in graph.applied(plan.destination)]
        held = held_revisions(changes, graph)
        stopped = next((r for r in following if r in held), None)
        if stopped is not None and following and following[0] == stopped:
            reason = Block(stopped, *held[stopped]).reason
            return CheckResult(NAME, Verdict.PASS, f"the upgrade stops before {reason}")
        names = ", ".join(f"{c.name} ({c.id})" for c in changes)
        return CheckResult(NAME, Verdict.PASS, f"in flight: {names}; none holds these revisions")

    return Check(NAME, check)


def _data(block: Block) -> dict[str, Any]:
    return {
        "revision": block.revision,
        "change": block.change.id,
        "phase": block.phase,
        "waiting": block.waiting,
    }


def stop_before(report: Report) -> str | None:
    """The last revision an upgrade may reach when the ``changes`` check held back the
    plan (the one before the first held, in plan order); None when nothing was held, or
    the very first pending revision is."""
    result = next((r for r in report.results if r.name == NAME), None)
    if result is None or result.verdict is not Verdict.FAIL or report.plan is None:
        return None
    ids = [revision.id for revision in report.plan.revisions]
    held = result.data.get("revision")
    index = ids.index(held) if held in ids else 0
    return ids[index - 1] if index > 0 else None
