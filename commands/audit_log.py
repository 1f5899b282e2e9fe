"""The bot's audit log: the event store at the configured state path.

Event kinds are named in ``EventKind``, one place, so the fronts, the fold
that derives request state and the tests agree on the spelling.
"""

from __future__ import annotations

from enum import StrEnum

from audit.store import Clock, EventStore, utc_now
from commands.config import Config


class EventKind(StrEnum):
    """Every kind of event migrate-bot appends. Add new kinds here."""

    # backups (commands/backups…)
    BACKUP_STARTED = "backup_started"
    BACKUP_SUCCEEDED = "backup_succeeded"
    BACKUP_FAILED = "backup_failed"
    BACKUP_DELETED = "backup_deleted"
    BACKUP_CLEANED = "backup_cleaned"  # leftovers of an interrupted backup removed
    # restores (commands/restore.py)
    RESTORE_STARTED = "restore_started"
    RESTORE_STAMPED = "restore_stamped"  # version table set to the backup's revision
    RESTORE_SUCCEEDED = "restore_succeeded"
    RESTORE_FAILED = "restore_failed"


def open_audit_log(config: Config, *, clock: Clock = utc_now) -> EventStore:
    """The store at ``[bot] state_path``, created on first use."""
    return EventStore(config.bot.state_path, clock=clock)
