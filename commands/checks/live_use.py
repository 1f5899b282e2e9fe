"""The ``live_use`` check: is the running application still using what the plan breaks?

The runbook asks a human to confirm "the application works with both the old
and the new schema". The database knows part of the answer: the pending
revisions' breaking changes (``breaking_changes``) are looked for in the
statements ``pg_stat_statements`` recorded for this database, each parsed
with PostgreSQL's parser (``statement_uses``). The counts are since the
statistics were reset; to tell whether a statement still runs *now*, the
statements found are read twice, ``live_use_window`` apart.

Left out, so that they are not taken for the application: statements that
are not data statements (DDL, COPY, EXPLAIN: migration tools and dumps), the
pending revisions' own statements and the target's ``smoke_sql`` (the bot
runs them), the bot's row counts, and, with ``live_use_roles``, every role
but the application's. pg_stat_statements has no ``application_name``: a
data migration an earlier revision ran, or a person's query, still counts
unless the roles tell them apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

from commands.checks.breaking_changes import BreakingChange, breaking_changes
from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Level, Verdict
from commands.checks.live_use_findings import LiveUse, UsingStatement, finding_json
from commands.checks.live_use_search import find_uses, fingerprint_of
from commands.config.live_use import LiveUseMode, LiveUseSettings
from commands.postgres.statement_stats import (
    StatsMissing,
    StatsSource,
    find_statement_stats,
    hidden_statements,
    statement_counters,
)
from commands.units import format_count

NAME = "live_use"


def check_live_use(context: PreflightContext) -> CheckResult:
    settings = context.handle.config.live_use
    if settings.mode is LiveUseMode.OFF:
        return CheckResult(NAME, Verdict.SKIP, 'switched off (live_use = "off")')
    source = find_statement_stats(context.conn)
    if isinstance(source, StatsMissing):
        return CheckResult(
            NAME, Verdict.SKIP, source.reason, source.fix, {"available": False, "fix": source.fix}
        )
    plan = context.plan
    statements = [s for rev in plan.revisions for s in context.statements.get(rev.id, [])]
    changes = breaking_changes(statements)
    unread = [rev.id for rev in plan.revisions if not plan.sql.get(rev.id, "").strip()]
    data = {"available": True, "mode": settings.mode.value, "findings": [], "unread": unread}
    if not changes:
        summary = "nothing the pending revisions drop, rename or retype could break a query"
        if unread:  # what a revision does that its offline SQL does not show is not known
            summary += f" (not read: {', '.join(unread)}, without offline SQL)"
        return CheckResult(NAME, Verdict.PASS, summary, data=data)
    search = _search(context, source, changes, settings)
    return _result(search, changes, settings, data)


@dataclass(frozen=True)
class _Search:
    """What was searched and found."""

    source: StatsSource
    found: list[LiveUse]
    searched: int  # statements whose text names something the plan changes
    unreadable: int  # of those, not data statements or not parsable
    excluded: int  # the bot's and the revisions' own statements
    hidden: int  # other roles' statements the bot's role may not read


def _search(
    context: PreflightContext,
    source: StatsSource,
    changes: list[BreakingChange],
    settings: LiveUseSettings,
) -> _Search:
    conn = context.conn
    began = time.monotonic()
    own = _own_fingerprints(context, changes)
    matched = find_uses(conn, source, changes, roles=settings.roles, own=own)
    found = _watched(conn, source, matched.found, settings, began)
    hidden = 0 if source.sees_every_role else hidden_statements(conn, source, roles=settings.roles)
    return _Search(source, found, matched.searched, matched.unreadable, matched.excluded, hidden)


def _own_fingerprints(context: PreflightContext, changes: list[BreakingChange]) -> set[str]:
    """Parse-tree fingerprints (constants ignored) of what the bot itself runs."""
    texts = [s.text for statements in context.statements.values() for s in statements]
    texts += list(context.handle.config.smoke_sql)
    for change in changes:
        if not change.kind.on_function and change.column is None:
            table = change.target
            texts.append(f"SELECT count(*) FROM {table}")
            texts.append(f"SELECT count(*) FROM {table.schema or 'public'}.{table.name}")
    return {fingerprint for text in texts if (fingerprint := fingerprint_of(text))}


def _watched(
    conn: psycopg.Connection,
    source: StatsSource,
    found: list[LiveUse],
    settings: LiveUseSettings,
    began: float,
) -> list[LiveUse]:
    """The findings with each statement's calls during ``window`` seconds since ``began``."""
    ids = sorted({s.row.queryid for f in found for s in f.statements})
    if not ids:
        return found
    time.sleep(max(0.0, began + settings.window - time.monotonic()))
    now = statement_counters(conn, source, queryids=ids, roles=settings.roles, limit=len(ids))

    def later(using: UsingStatement) -> UsingStatement:
        calls = now.get(using.row.queryid, (0, 0.0))[0]
        window = calls - using.row.calls if calls >= using.row.calls else None
        return UsingStatement(using.row, using.reads, using.writes, window)

    return [LiveUse(f.change, tuple(later(s) for s in f.statements)) for f in found]


def _result(
    search: _Search,
    changes: list[BreakingChange],
    settings: LiveUseSettings,
    data: dict[str, Any],
) -> CheckResult:
    source = search.source
    level = Level.FAIL if settings.mode is LiveUseMode.FAIL else Level.WARN
    findings = [
        finding_json(f, level=level.value, stats_reset=source.stats_reset, window_s=settings.window)
        for f in search.found
    ]
    data.update(
        findings=findings,
        changes=[c.subject + " " + c.what for c in changes],
        stats_reset=source.stats_reset.isoformat() if source.stats_reset else None,
        window_s=settings.window,
        searched=search.searched,
        unreadable=search.unreadable,
        excluded=search.excluded,
        hidden=search.hidden,
        roles=list(settings.roles),
    )
    notes = _notes(search, settings)
    data["notes"] = notes
    if not findings:
        since = (
            source.stats_reset.strftime(" since %Y-%m-%d %H:%M %Z") if source.stats_reset else ""
        )
        summary = (
            f"{len(changes)} change(s) that could break a query; no statement of the"
            f" application{since} uses them"
        )
        return CheckResult(NAME, Verdict.PASS, summary, tuple(notes), data)
    subjects = ", ".join(f"`{f['subject']}`" for f in findings)
    summary = (
        f"the application still uses {subjects}"
        f" ({format_count(sum(f['calls'] for f in findings), 'call')}):"
        + (" the approver must acknowledge it" if level is Level.WARN else ' live_use = "fail"')
    )
    details = [f"{f['level']:<4}  {f['sentence']}" for f in findings]
    details += [
        f"        {format_count(s['calls'], 'call'):>15}  {s['short']}"
        for f in findings
        for s in f["statements"]
    ]
    return CheckResult(NAME, level.verdict, summary, (*details, *notes), data)


def _notes(search: _Search, settings: LiveUseSettings) -> list[str]:
    notes = [
        f"searched {search.searched} recorded statement(s) naming what changes;"
        f" {search.excluded} are the bot's or the revisions' own,"
        f" {search.unreadable} are not application queries (DDL, COPY…) or did not parse"
    ]
    if settings.roles:
        notes.append(f"only the statements of {', '.join(settings.roles)} count (live_use_roles)")
    if search.hidden:
        role = search.source.role
        notes.append(
            f"{search.hidden} statement(s) of other roles are hidden from {role}:"
            f" GRANT pg_read_all_stats TO {role}; to search them too"
        )
    return notes
