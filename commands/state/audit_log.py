"""The bot's audit log: the event store where ``[bot]`` says the state lives.

Its vocabulary (event kinds, request states…) is in ``commands.state.vocabulary``.
"""

from __future__ import annotations

from audit.postgres_store import PostgresEventStore
from audit.sqlite_store import SqliteEventStore
from audit.store import Clock, EventStore, StoreError, utc_now
from commands.state.audit_reading import AuditLogUnavailableError
from commands.state.location import StateLocation
from commands.state.shared import shared_state


def open_audit_log(location: StateLocation, *, clock: Clock = utc_now) -> EventStore:
    """The log in the shared PostgreSQL (``state_url_env``), else in the SQLite file at
    ``state_path`` (created on first use); raises ``AuditLogUnavailableError`` if it
    cannot be opened, ``ConfigError`` if the URL's variable is unset or wrong."""
    shared = shared_state(location)
    if shared is not None:
        return PostgresEventStore(shared.pool, schema=shared.schema, clock=clock)
    try:
        return SqliteEventStore(location.path, clock=clock)
    except StoreError as exc:
        raise AuditLogUnavailableError(str(exc)) from None
