"""The ``promotion`` check: the revision must already be applied in the gating target.

``requires_applied_in = "staging"`` is the runbook's "test in staging" made a
rule: prod may go to a revision only once staging's database holds it.
"""

from __future__ import annotations

from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Verdict
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.plan import revisions_text
from commands.migration.script.revision_graph import Direction


def check_promotion(context: PreflightContext) -> CheckResult:
    gate = context.handle.config.requires_applied_in
    if gate is None:
        return CheckResult("promotion", Verdict.SKIP, "no promotion gate (requires_applied_in)")
    plan = context.plan
    if plan.is_empty:
        return CheckResult("promotion", Verdict.SKIP, "nothing pending")
    if plan.direction is Direction.DOWN:
        return CheckResult("promotion", Verdict.SKIP, f"downgrades are not gated on {gate}")
    other = AlembicRunner.for_target(context.open_other(gate)).current()
    graph = context.state.graph
    shown = revisions_text(other)
    data = {"gate": gate, "gate_current": list(other), "wanted": list(plan.destination)}
    unknown = [rev for rev in other if rev not in graph.revisions]
    if unknown:
        return CheckResult(
            "promotion",
            Verdict.FAIL,
            f"{gate} is at {shown}, which this target's project does not have: cannot tell",
            (),
            data,
        )
    applied = graph.applied(other)
    missing = [rev for rev in plan.destination if rev not in applied]
    if missing:
        return CheckResult(
            "promotion",
            Verdict.FAIL,
            f"{', '.join(missing)} is not applied in {gate} yet ({gate} is at {shown})",
            (),
            data,
        )
    return CheckResult(
        "promotion",
        Verdict.PASS,
        f"{', '.join(plan.destination)} already applied in {gate}",
        (),
        data,
    )
