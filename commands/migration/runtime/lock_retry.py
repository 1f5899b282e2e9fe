"""Lock retries: short lock waits first, growing, with pauses between.

A revision that asks for a lock held by a long transaction would, left alone,
wait, and every writer on that table would queue behind it. Instead each
attempt waits at most its own ``lock_timeout`` (never more than the target's
``lock_timeout``, so live traffic never stalls longer than that), gives up
with SQLSTATE 55P03 (PostgreSQL rolls the revision's transaction back),
pauses so the queue drains, and tries again, until the retry budget is spent.
The idea is GitLab's "lock retries".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from commands.units import postgres_interval

LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
_FIRST_FRACTION = 0.1  # the first attempt waits a tenth of the cap
_GROWTH = 2.0
_FIRST_PAUSE = 0.5
_MAX_PAUSE = 10.0


@dataclass(frozen=True)
class Attempt:
    """One try of a revision: how long it may wait for a lock, and the pause before it."""

    number: int
    lock_timeout: float
    pause_before: float


def retry_schedule(cap: float, budget: float) -> list[Attempt]:
    """Attempts whose waits and pauses fit in ``budget`` seconds; lock waits never exceed ``cap``.

    Waits double from a tenth of the cap up to the cap and pauses double up
    to ten seconds; there is always at least one attempt.
    """
    attempts = [Attempt(1, min(cap, max(cap * _FIRST_FRACTION, 0.05)), 0.0)]
    spent = attempts[0].lock_timeout
    wait, pause = attempts[0].lock_timeout, _FIRST_PAUSE
    while True:
        wait = min(cap, wait * _GROWTH)
        if spent + pause + wait > budget:
            break
        attempts.append(Attempt(len(attempts) + 1, wait, pause))
        spent += pause + wait
        pause = min(_MAX_PAUSE, pause * _GROWTH)
    return attempts


def is_retryable(sqlstate: str | None, *, cancelled_by_us: bool) -> bool:
    """A lock wait given up (55P03), or a statement *we* cancelled to drain a queue.

    57014 is also what statement_timeout raises; that one is not retried.
    """
    return sqlstate == LOCK_NOT_AVAILABLE or (sqlstate == QUERY_CANCELED and cancelled_by_us)


CLIENT_CHECK_SINCE = 14  # client_connection_check_interval exists from PostgreSQL 14
CLIENT_CHECK_MS = 1000


def session_settings(
    *, lock_timeout: float, statement_timeout: float, server_major: int
) -> dict[str, str]:
    """The PostgreSQL settings of a migration's connections, as ``name: value``.

    Besides the two timeouts they ask the server (14+) to check the client
    every second during a long statement: if migrate-bot dies mid-revision,
    the statement is cancelled and rolled back at once instead of running on
    with nobody watching.
    """
    settings = {
        "lock_timeout": postgres_interval(lock_timeout),
        "statement_timeout": postgres_interval(statement_timeout),
    }
    if server_major >= CLIENT_CHECK_SINCE:
        settings["client_connection_check_interval"] = str(CLIENT_CHECK_MS)
    return settings


def pg_options(*, lock_timeout: float, statement_timeout: float, server_major: int) -> str:
    """A ``PGOPTIONS`` value for every connection the child opens.

    libpq reads ``PGOPTIONS`` at connect time, so this reaches the project's
    env.py connections without touching env.py (the child also sets them on
    env.py's migration connection, for drivers that do not read it).
    """
    settings = session_settings(
        lock_timeout=lock_timeout, statement_timeout=statement_timeout, server_major=server_major
    )
    return " ".join(f"-c {name}={value}" for name, value in settings.items())


def child_env(
    *, lock_timeout: float, statement_timeout: float, server_major: int, application_name: str
) -> Mapping[str, str]:
    """Environment for one revision attempt: its timeouts and a name to find it by."""
    options = pg_options(
        lock_timeout=lock_timeout, statement_timeout=statement_timeout, server_major=server_major
    )
    return {"PGOPTIONS": options, "PGAPPNAME": application_name}
