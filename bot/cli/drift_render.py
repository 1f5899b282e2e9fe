"""Drift checks as text for the terminal. Pure functions."""

from __future__ import annotations

from commands.schema.drift_log import DriftCheck
from commands.schema.drift_report import DDL_HEADER, DriftState
from commands.units import format_duration


def checks_text(checks: list[DriftCheck], summary: str | None) -> str:
    """One block per database: its verdict, what changed since the last check, each
    difference, then the DDL that would make it match its history. ``summary`` heads a
    fleet's blocks."""
    blocks = [summary] if summary else []
    blocks += [_check_text(check) for check in checks]
    return "\n\n".join(blocks)


def _check_text(check: DriftCheck) -> str:
    report = check.report
    took = format_duration(report.timings.get("total_s", 0.0))
    how = "cached history" if report.cached else "history replayed"
    lines = [f"{report.target}: {report.summary()}"]
    if report.state is not DriftState.UNKNOWN:
        lines.append(f"  checked in {took} ({how})")
    lines.append(f"  {_since(check)}")
    lines += [f"  - {line}" for line in report.lines]
    if report.ddl:
        lines += [
            "",
            f"  {DDL_HEADER}",
            *(f"  {line}" for s in report.ddl for line in s.splitlines()),
        ]
    return "\n".join(lines)


def _since(check: DriftCheck) -> str:
    since = check.since.strftime("%Y-%m-%d %H:%M UTC")
    if check.previous is None:
        return f"first check; {check.report.state.value} since {since}"
    if check.changed:
        return (
            f"changed since the last check ({check.previous.state.value}); the ops channel is told"
        )
    return f"unchanged since {since}"
