"""The ``sessions`` and ``locks`` checks: who could make the migration wait.

DDL needs strong locks and waits behind every transaction holding a weaker
one on the same table; while it waits, every new query on that table queues
behind it. The runner's ``lock_timeout`` bounds the damage, but the approver
should know before pressing the button that a session has been idle in a
transaction on ``segments`` for ten minutes. Each session is named by pid,
user, application, state, age and its query cut short, ready for
``pg_terminate_backend`` if it comes to that.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Verdict
from commands.units import format_duration

QUERY_CHARS = 80

_SESSIONS = """
SELECT a.pid, a.usename, a.application_name, a.state,
       extract(epoch FROM now() - a.xact_start)::float8,
       extract(epoch FROM now() - a.state_change)::float8,
       left(regexp_replace(a.query, '\\s+', ' ', 'g'), %(chars)s)
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
  AND a.backend_type = 'client backend' AND a.xact_start IS NOT NULL
  AND ((a.state LIKE 'idle in transaction%%' AND a.state_change < now() - %(idle)s * interval '1 s')
       OR a.xact_start < now() - %(long)s * interval '1 s')
ORDER BY a.xact_start
"""

_LOCK_HOLDERS = """
SELECT a.pid, a.usename, a.application_name, a.state,
       extract(epoch FROM now() - a.xact_start)::float8,
       extract(epoch FROM now() - a.state_change)::float8,
       left(regexp_replace(a.query, '\\s+', ' ', 'g'), %(chars)s),
       l.relation::regclass::text, l.mode
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation = ANY(%(oids)s::oid[])
ORDER BY a.xact_start, l.relation::regclass::text
"""


@dataclass(frozen=True)
class Session:
    """One backend as an approver needs to see it."""

    pid: int
    user: str | None
    application: str | None
    state: str | None
    transaction_s: float | None
    in_state_s: float | None
    query: str
    table: str | None = None
    mode: str | None = None

    def describe(self) -> str:
        who = ", ".join(p for p in (self.user, self.application) if p) or "unknown"
        state = self.state or "unknown state"
        age = format_duration(self.in_state_s or 0) if self.idle else None
        held = f" holds {self.mode} on {self.table}" if self.table else ""
        since = f" for {age}" if age else ""
        transaction = (
            f", transaction open {format_duration(self.transaction_s)}"
            if self.transaction_s is not None
            else ""
        )
        return f"pid {self.pid} ({who}) {state}{since}{transaction}{held}: {self.query or '—'}"

    @property
    def idle(self) -> bool:
        return bool(self.state and self.state.startswith("idle in transaction"))

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def long_sessions(context: PreflightContext) -> list[Session]:
    settings = context.settings
    rows = context.conn.execute(
        _SESSIONS,
        {
            "chars": QUERY_CHARS,
            "idle": settings.idle_in_transaction,
            "long": settings.long_transaction,
        },
    ).fetchall()
    return [Session(*row) for row in rows]


def lock_holders(context: PreflightContext) -> list[Session]:
    oids = [s.oid for s in context.table_sizes.values() if s.oid is not None]
    if not oids:
        return []
    rows = context.conn.execute(_LOCK_HOLDERS, {"chars": QUERY_CHARS, "oids": oids}).fetchall()
    return [Session(*row) for row in rows]


def check_sessions(context: PreflightContext) -> CheckResult:
    found = long_sessions(context)
    settings = context.settings
    limits = (
        f"transactions over {format_duration(settings.long_transaction)}, idle in transaction"
        f" over {format_duration(settings.idle_in_transaction)}"
    )
    data = {"sessions": [s.to_json() for s in found]}
    if not found:
        return CheckResult("sessions", Verdict.PASS, f"none ({limits})", (), data)
    return CheckResult(
        "sessions",
        Verdict.WARN,
        f"{len(found)} session(s) with {limits}",
        tuple(s.describe() for s in found),
        data,
    )


def check_locks(context: PreflightContext) -> CheckResult:
    """Holders on the tables the pending SQL touches; a stuck one fails the pre-flight."""
    holders = lock_holders(context)
    touched = sorted(name for name, size in context.table_sizes.items() if size.exists)
    data = {"tables": touched, "holders": [h.to_json() for h in holders]}
    if not holders:
        names = ", ".join(touched) or "none yet"
        return CheckResult(
            "locks", Verdict.PASS, f"no locks held on the tables touched ({names})", (), data
        )
    settings = context.settings
    stuck = [
        h
        for h in holders
        if (h.idle and (h.in_state_s or 0) >= settings.idle_in_transaction)
        or (h.transaction_s or 0) >= settings.long_transaction
    ]
    tables = sorted({h.table for h in holders if h.table})
    pids = sorted({h.pid for h in holders})
    summary = f"{len(pids)} session(s) hold locks on {', '.join(tables)}"
    lock_timeout = format_duration(context.handle.config.lock_timeout)
    if stuck:
        verdict, why = Verdict.FAIL, "a stuck transaction: the migration would wait on it"
    else:
        verdict, why = Verdict.WARN, f"the migration waits up to lock_timeout {lock_timeout}"
    return CheckResult(
        "locks", verdict, f"{summary} ({why})", tuple(h.describe() for h in holders), data
    )
