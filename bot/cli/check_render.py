"""Check reports as plain text for the terminal and a change ticket. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from commands.checks.framework import Phase, Report, Verdict
from commands.units import format_duration

_TITLES = {
    Phase.PREFLIGHT: "Pre-flight",
    Phase.VERIFICATION: "Verification",
    Phase.PARTIAL: "After the failure",
    Phase.REHEARSAL: "Rehearsal",
}
_OUTCOME = {
    (Phase.PREFLIGHT, Verdict.FAIL): "FAIL: blocks approval and running",
    (Phase.PREFLIGHT, Verdict.WARN): "WARN: the approver should read the warnings",
    (Phase.VERIFICATION, Verdict.FAIL): "FAIL: the run is failed; rollback paths below",
}
NAME_WIDTH = 13


def report_text(report: Report) -> str:
    """The report as a block to paste into a change ticket: header, one line per check, details."""
    lines = [f"{_TITLES[report.phase]} for {report.target}: {_plan_line(report)}"]
    if report.server_version:
        lines.append(f"  PostgreSQL {report.server_version}")
    checked = report.started_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    lines.append(f"  checked {checked} in {format_duration(report.duration_s)}")
    outcome = _OUTCOME.get((report.phase, report.verdict), report.verdict.value.upper())
    lines += [f"  verdict: {outcome}", ""]
    indent = " " * (6 + NAME_WIDTH)
    for result in report.results:
        lines.append(
            f"{result.verdict.value.upper():<5} {result.name:<{NAME_WIDTH}}{result.summary}"
        )
        lines += [f"{indent}{detail}" for detail in result.details]
    if report.rollback:
        lines += ["", "Rollback paths (each is a new request that needs approval):"]
        lines += [f"  - {path.kind}: {path.description}" for path in report.rollback]
    return "\n".join(lines)


def _plan_line(report: Report) -> str:
    plan = report.plan
    if plan is None:
        return "no plan (see below)"
    start = ", ".join(plan.current) or "base"
    end = ", ".join(plan.destination) or "base"
    verb = "upgrade" if plan.direction.value == "up" else "downgrade"
    if plan.is_empty:
        return f"at {start}, nothing to {verb}"
    return f"{verb} {start} -> {end}, {len(plan.revisions)} revision(s)"


def findings_text(results: Iterable[Mapping[str, Any]]) -> str:
    """What an approver reads in Slack's pre-flight, for the terminal: the lint findings
    (always, when there are any) and every check that warned or failed, with its details.
    ``results`` are checks as recorded (``CheckResult.to_json``). Empty when all is clean."""
    lines = []
    indent = " " * (8 + NAME_WIDTH)
    for result in results:
        verdict = str(result.get("verdict", ""))
        findings = (result.get("data") or {}).get("findings")
        if verdict not in (Verdict.WARN, Verdict.FAIL) and not findings:
            continue
        name, summary = str(result.get("name", "?")), str(result.get("summary", ""))
        lines.append(f"  {verdict.upper():<5} {name:<{NAME_WIDTH}}{summary}")
        lines += [f"{indent}{detail}" for detail in result.get("details") or ()]
    return "\n".join(lines)
