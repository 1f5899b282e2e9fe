"""Terminal and JSON renderings of audit events and requests. Pure functions."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from audit.chain import Event, canonical_json
from audit.verification import VerifyReport
from bot.cli.run_render import MARKS
from commands.migration.script.plan import revisions_text
from commands.requests import Request
from commands.requests.members import MemberRun
from commands.requests.wording import format_time, state_phrase

CSV_COLUMNS = ("seq", "ts", "request_id", "target", "actor", "kind", "data", "prev_hash", "hash")
_SUMMARY_WIDTH = 90
EMPTY: Mapping[str, str] = MappingProxyType({})


def event_json(event: Event) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "ts": event.ts,
        "request_id": event.request_id,
        "target": event.target,
        "actor": event.actor,
        "kind": event.kind,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def data_summary(data: Any, width: int = _SUMMARY_WIDTH) -> str:
    """``key=value`` pairs on one line, long values cut, the whole cut to ``width``."""
    parts = []
    for key, value in data.items():
        text = value if isinstance(value, str) else canonical_json(value)
        parts.append(f"{key}={text[:40] + '…' if len(text) > 41 else text}")
    line = " ".join(parts)
    return line if len(line) <= width else line[: width - 1] + "…"


def event_line(event: Event) -> str:
    when = event.ts[:19].replace("T", " ")
    return (
        f"{event.seq:>6}  {when}  {event.request_id or '-':<6} {event.target or '-':<10}"
        f" {event.actor:<14} {event.kind:<22} {data_summary(event.data)}"
    ).rstrip()


def events_text(events: list[Event]) -> str:
    if not events:
        return "no events"
    header = f"{'seq':>6}  {'time (UTC)':<19}  {'req':<6} {'target':<10} {'actor':<14} kind"
    return "\n".join([header, *(event_line(e) for e in events)])


def json_array(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array written piece by piece, so a large log never sits in memory."""
    yield "["
    for index, item in enumerate(items):
        yield ("," if index else "") + "\n  " + canonical_json(item)
    yield "\n]\n"


def csv_rows(events: Iterable[Event]) -> Iterator[str]:
    """CSV text, a header then one row per event; ``data`` as canonical JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for event in events:
        row = event_json(event)
        row["data"] = canonical_json(event.data)
        writer.writerow([row[c] for c in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def verify_json(report: VerifyReport) -> dict[str, Any]:
    breach = report.breach
    return {
        "ok": report.ok,
        "events": report.events,
        "head": str(report.head) if report.head else None,
        "since": str(report.since) if report.since else None,
        "breach": {"seq": breach.seq, "reason": breach.reason} if breach else None,
    }


def verify_text(report: VerifyReport) -> str:
    head = f", head {report.head}" if report.head else ""
    if report.since is None:
        return f"ok: {report.events:,} events, every hash and link verifies{head}"
    return (
        f"ok: {report.events:,} events since event {report.since.seq:,} (verified before,"
        f" unchanged), every hash and link verifies{head}; without --new every event is"
        " rehashed"
    )


def named(actor: str, names: Mapping[str, str]) -> str:
    """``alice (U0ALICE)`` where the name is known, else the actor as recorded."""
    name = names.get(actor)
    return f"{name} ({actor})" if name else actor


def request_line(request: Request, names: Mapping[str, str] = EMPTY) -> str:
    goal = f"{request.kind.value} {request.target} → {request.goal}"
    glass = "  [break-glass]" if request.break_glass else ""
    return (
        f"{request.id:<6} {goal:<34} {request.state.value:<18} by"
        f" {named(request.requester, names)} {format_time(request.created_at)}{glass}"
    )


def requests_text(requests: list[Request], names: Mapping[str, str] = EMPTY) -> str:
    return "\n".join(request_line(r, names) for r in requests) if requests else "no requests"


def request_text(request: Request, names: Mapping[str, str] = EMPTY) -> str:
    """Everything about one request, as an operator reads it in a terminal."""
    fp = request.fingerprint
    lines = [
        request_line(request, names),
        f"  {request.id} {state_phrase(request)}",
        f"  plan {fp.short}: {_names(fp.from_revisions)} → {_names(fp.to_revisions)}",
    ]
    lines += [f"    {r.id}  sha256 {r.sha256[:12]}" for r in fp.revisions]
    if fp.backup:
        lines.append(f"    backup {fp.backup} sha256 {(fp.backup_sha256 or '')[:12]}")
    if request.reason:
        lines.append(f"  reason: {request.reason}")
    if request.preflight:
        result = "passed" if request.preflight.passed else "FAILED"
        lines.append(f"  pre-flight {result}: {request.preflight.summary}")
    lines += [
        f"  ✓ {t.item.label} — {named(t.by, names)}, {format_time(t.at)}" for t in request.checklist
    ]
    lines += [
        f"  approved by {named(a.approver, names)} at {format_time(a.at)}"
        f" (plan {a.fingerprint[:12]})" + (" [break-glass]" if a.break_glass else "")
        for a in request.approvals
    ]
    lines += members_text(request)
    if request.run:
        for step in request.run.steps:
            revision = f" {step.revision}" if step.revision else ""
            lines.append(
                f"  step {step.name}{revision}: {step.status.value} {step.detail}".rstrip()
            )
    return "\n".join(lines)


def request_json(request: Request) -> dict[str, Any]:
    return {
        "id": request.id,
        "kind": request.kind.value,
        "target": request.target,
        "goal": request.goal,
        "state": request.state.value,
        "requester": request.requester,
        "created_at": request.created_at.isoformat(),
        "break_glass": request.break_glass,
        "reason": request.reason,
        "origin": dict(request.origin),
        "fingerprint": {"digest": request.fingerprint.digest, **request.fingerprint.to_json()},
        "approvals": [
            {"approver": a.approver, "at": a.at.isoformat(), "fingerprint": a.fingerprint}
            for a in request.approvals
        ],
        "checklist": [
            {"item": t.item.value, "by": t.by, "at": t.at.isoformat()} for t in request.checklist
        ],
        "preflight": (
            {"passed": request.preflight.passed, "summary": request.preflight.summary}
            if request.preflight
            else None
        ),
        "members": members_json(request) if request.members else None,
        "current_step": request.run.current_step if request.run else None,
        "last_revision_applied": request.run.last_revision_applied if request.run else None,
        "closed": (
            {
                "by": request.closure.by,
                "at": request.closure.at.isoformat(),
                "reason": request.closure.reason,
            }
            if request.closure
            else None
        ),
    }


def _names(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "base"


def members_text(request: Request) -> list[str]:
    """A fleet request's members, one line each: state, revision, backup, error."""
    if not request.members:
        return []
    width = max(len(name) for name in request.members)
    lines = [f"  members ({len(request.members)}):"]
    for member in request.members.values():
        lines.append(f"    {MARKS[member.state]} {member.name:<{width}}  {_run_line(member)}")
    return lines


def _run_line(member: MemberRun) -> str:
    now = member.revision_now
    parts = [f"{member.state.value:<11}", f"at {revisions_text(now) if now is not None else '?'}"]
    if member.wave is not None:
        parts.append(f"wave {member.wave}")
    if member.backup_id:
        parts.append(f"backup {member.backup_id}")
    if member.error:
        parts.append(member.error.splitlines()[0][:160])
    return "  ".join(parts)


def members_json(request: Request) -> list[dict[str, Any]]:
    return [
        {
            "name": m.name,
            "state": m.state.value,
            "wave": m.wave,
            "from": list(m.from_revisions),
            "to": list(m.to_revisions),
            "current": list(m.revision_now) if m.revision_now is not None else None,
            "backup_id": m.backup_id,
            "error": m.error or None,
        }
        for m in request.members.values()
    ]
