"""Every backup of every target and where it stands, kept beside the audit log.

A projection (``audit.projections``): one row per backup, its state taken from
its events as they are appended (started, written to a URI, succeeded,
failed, deleted), so listing a target's live backups, finding the ones a
crash left unfinished, or choosing an unused id read a few rows, not every
backup event in the history. A live backup's record is still its
``backup_succeeded`` event, read by its sequence number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audit.chain import Event
from audit.projections import Projection, Transaction
from audit.store import EventStore
from commands.state.audit_reading import audit_log_errors
from commands.state.vocabulary import EventKind

TABLE = "backup_index"
SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    target TEXT NOT NULL,
    backup_id TEXT NOT NULL,
    state TEXT NOT NULL,
    uri TEXT,
    record_seq INTEGER,
    PRIMARY KEY (target, backup_id)
);
CREATE INDEX IF NOT EXISTS {TABLE}_state ON {TABLE} (target, state, record_seq);
"""
STARTED, SUCCEEDED, FAILED, DELETED = "started", "succeeded", "failed", "deleted"
_UPSERT = (
    f"INSERT INTO {TABLE} (target, backup_id, state, uri, record_seq) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (target, backup_id) DO UPDATE SET state = excluded.state,"
    f" uri = coalesce(excluded.uri, {TABLE}.uri),"
    f" record_seq = coalesce(excluded.record_seq, {TABLE}.record_seq)"
)


class BackupIndex:
    """The ``backup_index`` projection."""

    name = TABLE
    sqlite_schema = SQLITE_SCHEMA

    def apply(self, tx: Transaction, events: Sequence[Event]) -> None:
        for event in events:
            change = _change(event)
            if change is not None and event.target is not None:
                state, uri, record_seq = change
                tx.execute(_UPSERT, (event.target, event.data["backup_id"], state, uri, record_seq))

    def clear(self, tx: Transaction) -> None:
        tx.execute(f"DELETE FROM {TABLE}")


def _change(event: Event) -> tuple[str, str | None, int | None] | None:
    """The row's new state, URI and record for one event (None: not a backup's)."""
    kind = event.kind
    if kind == EventKind.BACKUP_STARTED:
        return STARTED, None, None
    if kind == EventKind.BACKUP_WRITING:
        return STARTED, event.data.get("uri"), None
    if kind == EventKind.BACKUP_SUCCEEDED:
        return SUCCEEDED, event.data.get("uri"), event.seq
    if kind == EventKind.BACKUP_FAILED:
        return FAILED, None, None
    if kind == EventKind.BACKUP_DELETED:
        return DELETED, None, None
    return None


BACKUP_INDEX: Projection = BackupIndex()


def _query(store: EventStore, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with audit_log_errors():  # a log that cannot be brought up to date raises as the user's
        return store.query(BACKUP_INDEX, sql, params)


def live_records(store: EventStore, target: str) -> list[Event]:
    """The ``backup_succeeded`` events of the target's backups not deleted, newest first."""
    rows = _query(
        store,
        f"SELECT record_seq FROM {TABLE} WHERE target = ? AND state = ? ORDER BY record_seq DESC",
        (target, SUCCEEDED),
    )
    events = (store.events(after_seq=seq - 1, limit=1) for (seq,) in rows)
    return [found[0] for found in events if found and found[0].kind == EventKind.BACKUP_SUCCEEDED]


def unfinished(store: EventStore, target: str) -> list[tuple[str, str | None]]:
    """Backups that started and neither succeeded nor failed: id, and the URI it was being
    written to if it got that far."""
    rows = _query(
        store,
        f"SELECT backup_id, uri FROM {TABLE} WHERE target = ? AND state = ?",
        (target, STARTED),
    )
    return [(backup_id, uri) for backup_id, uri in rows]


def id_taken(store: EventStore, target: str, backup_id: str) -> bool:
    rows: list[tuple[Any, ...]] = _query(
        store,
        f"SELECT 1 FROM {TABLE} WHERE target = ? AND backup_id = ?",
        (target, backup_id),
    )
    return bool(rows)
