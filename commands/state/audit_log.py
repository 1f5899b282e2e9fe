"""The bot's audit log: the event store at the configured state path.

Its vocabulary (event kinds, request states…) is in ``commands.state.vocabulary``.
"""

from __future__ import annotations

from pathlib import Path

from audit.store import Clock, EventStore, StoreError, utc_now
from commands.state.audit_reading import AuditLogUnavailableError


def open_audit_log(state_path: Path, *, clock: Clock = utc_now) -> EventStore:
    """The store at ``state_path`` (``[bot] state_path``), created on first use; raises
    ``AuditLogUnavailableError`` if the file cannot be opened."""
    try:
        return EventStore(state_path, clock=clock)
    except StoreError as exc:
        raise AuditLogUnavailableError(str(exc)) from None
