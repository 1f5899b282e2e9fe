"""A run's schema diff as evidence: an audit event naming it, the diff kept in the state.

The event (``schema_diff``) holds the diff's sha256, its one-line summary
and the digests of the schema before and after; the diff itself, as
canonical JSON, is kept in the state under that sha256. Reading it back
hashes it again, so what ``migrate-bot requests ID --schema-diff`` shows is
proven to be what the hash-chained event recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from audit.chain import Event
from audit.store import EventStore
from commands.schema.model import sha256_json
from commands.schema.run_diff import SchemaChanges
from commands.state.schema_diffs import SchemaDiffs
from commands.state.vocabulary import EventKind

LINES_RECORDED = 20


def record_schema_diff(
    store: EventStore,
    diffs: SchemaDiffs,
    changes: SchemaChanges,
    *,
    request_id: str,
    target: str,
    actor: str,
) -> Event:
    """Keep ``changes`` in the state, then append the event that names it."""
    body = changes.to_json()
    digest = sha256_json(body)
    diffs.keep(digest, json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    return store.append(
        kind=EventKind.SCHEMA_DIFF,
        actor=actor,
        request_id=request_id,
        target=target,
        data={
            "sha256": digest,
            "before_sha256": changes.before_sha256,
            "after_sha256": changes.after_sha256,
            "summary": changes.summary(),
            "changes": len(changes.differences),
            "lines": changes.lines()[:LINES_RECORDED],
        },
    )


@dataclass(frozen=True)
class StoredDiff:
    """One ``schema_diff`` event and the diff it names, if the state still holds it intact."""

    event: Event
    changes: SchemaChanges | None
    problem: str | None = None  # why ``changes`` is missing

    @property
    def sha256(self) -> str:
        return str(self.event.data["sha256"])


def schema_diffs_of(store: EventStore, diffs: SchemaDiffs, request_id: str) -> list[StoredDiff]:
    """A request's schema diffs (a fleet's: one per member), each checked against its event."""
    found = []
    for event in store.events(request_id=request_id, kinds=[EventKind.SCHEMA_DIFF]):
        found.append(_stored(event, diffs.body(str(event.data["sha256"]))))
    return found


def _stored(event: Event, body: str | None) -> StoredDiff:
    if body is None:
        return StoredDiff(event, None, "the state no longer holds this diff")
    data = json.loads(body)
    if sha256_json(data) != event.data["sha256"]:
        return StoredDiff(event, None, "the stored diff does not hash to the event's sha256")
    return StoredDiff(event, SchemaChanges.from_json(data))
