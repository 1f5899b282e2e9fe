"""A fleet's pre-flight in one report: each check summarised over the members. Pure.

Each check the members ran becomes one line: its worst verdict, how many
members passed, and the members that warned or failed, by name, with what
they found (findings, such as ``live_use``'s, carried once per finding so
an approver reads and acknowledges them as on a single target). The set's
lint and forecast and a ``members`` line (the groups: who starts where, runs
what) join them. Recorded on the request like any pre-flight, so the same views show it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from commands.checks import CheckResult, Phase, Report, Verdict
from commands.checks.framework import worst
from commands.fleet.member_status import names
from commands.fleet.set_plan import Group
from commands.fleet.survey import SET_CHECKS, MemberSurvey
from commands.migration.script.plan import Plan
from commands.units import format_bytes

MEMBERS_LISTED = 40  # members named per check before "… and N more"


def set_report(
    target: str,
    surveys: Sequence[MemberSurvey],
    *,
    groups: Sequence[Group],
    plan: Plan | None,
    sized: Sequence[CheckResult],
    started_at: datetime,
    duration_s: float,
) -> Report:
    """The fleet's pre-flight: ``members``, the set's lint and forecast (``sized``), then
    each member check."""
    results = [members_check(surveys, groups, plan), *sized]
    results += [_summarised(name, surveys) for name in _check_names(surveys)]
    return Report(
        phase=Phase.PREFLIGHT,
        target=target,
        results=tuple(results),
        started_at=started_at,
        duration_s=duration_s,
        plan=plan,
    )


def members_check(
    surveys: Sequence[MemberSurvey], groups: Sequence[Group], plan: Plan | None
) -> CheckResult:
    """Who starts where and runs what; fails for a member that could not be opened."""
    unopened = [s for s in surveys if s.report is None]
    moving = [g for g in groups if g.revisions]
    still = sum(len(g.members) for g in groups if not g.revisions)
    summary = (
        f"{len(surveys)} member(s): {sum(len(g.members) for g in moving)} to move,"
        f" in {len(moving)} group(s) by starting revision"
    )
    if still:
        summary += f"; {still} already there"
    details = [_group_line(g) for g in groups]
    details += [f"{s.name}: {s.error}" for s in unopened]
    messages = {r.id: r.message for r in plan.revisions} if plan else {}
    data = {
        "groups": [
            {
                "from": list(g.from_revisions),
                "to": list(g.to_revisions),
                "revisions": list(g.revisions),
                "members": list(g.members),
            }
            for g in groups
        ],
        "revisions": messages,
    }
    verdict = Verdict.FAIL if unopened else Verdict.PASS
    if unopened:
        summary += f"; {len(unopened)} could not be opened"
    return CheckResult("members", verdict, summary, tuple(details), data)


def _group_line(group: Group) -> str:
    start = ", ".join(group.from_revisions) or "base"
    what = f"{len(group.revisions)} revision(s)" if group.revisions else "nothing to do"
    return f"{len(group.members)} at {start}: {what} — {names(group.members)}"


def largest(surveys: Sequence[MemberSurvey]) -> MemberSurvey | None:
    """The member with the largest database among those that could be checked."""
    checked = [s for s in surveys if s.report is not None and s.report.plan is not None]
    return max(checked, key=lambda s: s.database_bytes, default=None)


def size_text(survey: MemberSurvey) -> str:
    return format_bytes(survey.database_bytes) if survey.database_bytes else "size unknown"


def _check_names(surveys: Sequence[MemberSurvey]) -> list[str]:
    seen: dict[str, None] = {}
    for survey in surveys:
        for result in survey.report.results if survey.report else ():
            if result.name not in SET_CHECKS:
                seen.setdefault(result.name, None)
    return list(seen)


def _summarised(name: str, surveys: Sequence[MemberSurvey]) -> CheckResult:
    found = [
        (s.name, r)
        for s in surveys
        if s.report is not None
        for r in s.report.results
        if r.name == name
    ]
    verdict = worst(r.verdict for _, r in found)
    by_verdict = {v: [m for m, r in found if r.verdict is v] for v in Verdict}
    if all(r.verdict is Verdict.SKIP for _, r in found):
        return CheckResult(name, Verdict.SKIP, found[0][1].summary if found else "skipped")
    parts = [
        f"{v.value} on {len(by_verdict[v])} ({names(by_verdict[v], 3)})"
        for v in (Verdict.FAIL, Verdict.WARN)
        if by_verdict[v]
    ]
    passed = len(by_verdict[Verdict.PASS]) + len(by_verdict[Verdict.SKIP])
    if not parts:
        summary = f"passed on all {passed} member(s)"
        sample = found[0][1].summary if len(found) == 1 else ""
        summary += f": {sample}" if sample else ""
    else:
        summary = "; ".join(parts) + (f"; passed on {passed}" if passed else "")
    notable = [(m, r) for m, r in found if r.verdict in (Verdict.FAIL, Verdict.WARN)]
    notable.sort(key=lambda pair: -pair[1].verdict.rank)
    details = [f"{m}: {r.verdict.value} — {r.summary}" for m, r in notable[:MEMBERS_LISTED]]
    if len(notable) > MEMBERS_LISTED:
        details.append(f"… and {len(notable) - MEMBERS_LISTED} more member(s)")
    data: dict[str, object] = {
        "members": {v.value: by_verdict[v] for v in (Verdict.FAIL, Verdict.WARN)}
    }
    findings = carried_findings(notable)
    if findings:
        data["findings"] = findings
    return CheckResult(name, verdict, summary, tuple(details), data)


def carried_findings(notable: Sequence[tuple[str, CheckResult]]) -> list[dict[str, Any]]:
    """The members' findings (``live_use``'s), one per finding key: the first member's,
    naming every member that has it, so the evidence shows on the fleet's request and
    each approver acknowledges each distinct finding once, as on a single target."""
    by_key: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for member, result in notable:
        for finding in result.data.get("findings") or ():
            if isinstance(finding, Mapping):
                first, members = by_key.setdefault(str(finding.get("key")), (dict(finding), []))
                members.append(member)
                if finding.get("level") == "fail":
                    first["level"] = "fail"
    return [
        {
            **finding,
            "members": members,
            "sentence": f"On {names(members)}: {finding.get('sentence', '')}",
        }
        for finding, members in by_key.values()
    ]
