"""A long audit log, written quickly: N requests' events for the history benchmarks.

One request's life is recorded for real through ``RequestService`` (created,
pre-flight, the checklist, an approval, a run with a backup and three
revisions, its end): 15 events. The log is then that life again and again,
each copy with its own request id, times an hour apart and its own hash chain,
written straight into the store's table in large transactions (appending
through ``Transaction.append`` one event at a time would take an hour for
100,000 requests). Every tenth request is rejected after its pre-flight
instead; the newest few are left open (awaiting approval, approved), as a
real log's tail is. ``audit verify`` passes on the result.

    from bench.history import write_history
    write_history(path, requests=100_000, targets=("app", "web"))
"""

from __future__ import annotations

import sqlite3
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit.chain import GENESIS_HASH, Head, canonical_json, event_hash
from audit.postgres_store import PostgresEventStore
from audit.rows import COLUMNS, EVENTS
from audit.sqlite_store import SqliteEventStore
from audit.store import EventStore
from commands.config.targets_file import BUNDLED_MIGRATIONS, Config, parse_config
from commands.migration.script.fingerprint import PlanFingerprint, RevisionFile
from commands.requests import RequestService
from commands.state.shared import SharedState
from commands.state.vocabulary import (
    ChecklistItem,
    EventKind,
    RequestKind,
    RequestState,
    StepStatus,
)

BATCH = 20_000  # events per transaction
REJECTED_EVERY = 10
OPEN_AT_THE_END = 5  # the newest requests: awaiting approval or approved


@dataclass(frozen=True)
class Template:
    """One request's events as recorded: kind, actor, data (as stored), seconds after its
    creation."""

    events: tuple[tuple[str, str, str, float], ...]


def bench_config(folder: Path, targets: Sequence[str], state: str = "audit.sqlite3") -> Config:
    """Targets on the bundled migrations (their databases are not reached here)."""
    blocks = "".join(
        f"""
        [targets.{name}]
        database_url_env = "BENCH_UNUSED_URL"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        approvers = ["U0BOB"]
        """
        for name in targets
    )
    text = f'[bot]\nstate_path = "{state}"\n' + textwrap.dedent(blocks)
    return parse_config(text, source="bench", base=folder)


def bench_plan(target: str) -> PlanFingerprint:
    revisions = tuple(RevisionFile(f"r{i}", f"{i:064x}") for i in range(1, 4))
    return PlanFingerprint(target, "upgrade", (), ("r3",), revisions)


def live_once(service: RequestService, target: str, *, reject: bool = False) -> str:
    """One request's whole life through the service; its id."""
    plan = bench_plan(target)
    request = service.create(
        kind=RequestKind.UPGRADE, target=target, requester="U0ALICE", fingerprint=plan
    )
    service.record_preflight(request.id, actor="bot", passed=True, summary="all checks passed")
    if reject:
        service.reject(request.id, actor="U0BOB", reason="not this week")
        return request.id
    for item in ChecklistItem:
        service.tick_checklist(request.id, item=item, actor="U0ALICE")
    service.approve(request.id, approver="U0BOB")
    service.start_run(request.id, actor="bot", fingerprint_now=plan)
    service.store.append(kind=EventKind.BACKUP_STARTED, **_backup_fields(request.id, target))
    service.store.append(
        kind=EventKind.BACKUP_SUCCEEDED,
        **_backup_fields(request.id, target),
    )
    for revision in ("r1", "r2", "r3"):
        service.record_step(
            request.id,
            actor="bot",
            step="upgrade",
            revision=revision,
            status=StepStatus.SUCCEEDED,
            duration_s=0.25,
        )
    service.finish_run(request.id, actor="bot", outcome=RequestState.SUCCEEDED)
    return request.id


def _backup_fields(request_id: str, target: str) -> dict:
    data = {
        "backup_id": "k7m2xq",
        "name": f"{target}_20260101000000_r0.dump",
        "uri": f"file:///srv/backups/{target}_20260101000000_r0.dump",
        "size_bytes": 88_000_000,
        "sha256": "0" * 64,
        "revisions": ["r0"],
        "server_version": "18.6",
        "pg_dump_version": "18.6",
        "format": "custom+zstd",
        "compression": "zstd:1",
        "archive_size_bytes": 400_000_000,
        "encryption": None,
        "verified_by": "pg_restore --list and a full read",
        "toc_entries": 40,
        "durations_s": {"dump": 2.1, "verify": 0.1, "upload": 0.2, "total": 2.4},
        "row_counts": {"public.jobs": 500, "public.videos": 500, "public.segments": 20_000},
    }
    return {"actor": "bot", "request_id": request_id, "target": target, "data": data}


def record_templates(target: str) -> dict[str, Template]:
    """A succeeded, a rejected, an awaiting and an approved life, each recorded once."""
    with tempfile.TemporaryDirectory(prefix="bench-template-") as tmp:
        store = SqliteEventStore(Path(tmp) / "template.sqlite3")
        service = RequestService(store, bench_config(Path(tmp), [target]))
        lives = {
            "succeeded": live_once(service, target),
            "rejected": live_once(service, target, reject=True),
        }
        plan = bench_plan(target)
        waiting = service.create(
            kind=RequestKind.UPGRADE, target=target, requester="U0ALICE", fingerprint=plan
        )
        service.record_preflight(waiting.id, actor="bot", passed=True, summary="ok")
        lives["awaiting"] = waiting.id
        templates = {}
        for name, request_id in lives.items():
            events = store.events(request_id=request_id)
            start = datetime.fromisoformat(events[0].ts)
            templates[name] = Template(
                tuple(
                    (e.kind, e.actor, canonical_json(e.data), _seconds(e.ts, start)) for e in events
                )
            )
        store.close()
    return templates


def _seconds(ts: str, start: datetime) -> float:
    return (datetime.fromisoformat(ts) - start).total_seconds()


def history_rows(
    requests: int, targets: Sequence[str], *, first_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> Iterator[tuple]:
    """The rows (``COLUMNS``) of ``requests`` requests' events, oldest first, chained from
    ``prev_hash``."""
    templates = {target: record_templates(target) for target in targets}
    began = datetime.now(UTC) - timedelta(hours=requests + 1)
    seq, prev = first_seq, prev_hash
    for number in range(1, requests + 1):
        target = targets[number % len(targets)]
        if number > requests - OPEN_AT_THE_END:
            life = templates[target]["awaiting"]
        elif number % REJECTED_EVERY == 0:
            life = templates[target]["rejected"]
        else:
            life = templates[target]["succeeded"]
        created = began + timedelta(hours=number)
        request_id = f"M-{number}"
        for kind, actor, data_json, offset in life.events:
            ts = (created + timedelta(seconds=offset)).isoformat(timespec="microseconds")
            digest = event_hash(
                seq=seq,
                ts=ts,
                request_id=request_id,
                target=target,
                actor=actor,
                kind=kind,
                data_json=data_json,
                prev_hash=prev,
            )
            yield (seq, ts, request_id, target, actor, kind, data_json, prev, digest)
            seq, prev = seq + 1, digest


def write_history(path: Path, *, requests: int, targets: Sequence[str]) -> EventStore:
    """A new SQLite audit log at ``path`` holding ``requests`` requests; the store on it."""
    store = SqliteEventStore(path)  # creates the schema
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    marks = ", ".join("?" * len(COLUMNS))
    insert = f"INSERT INTO {EVENTS} ({', '.join(COLUMNS)}) VALUES ({marks})"
    last: tuple | None = None
    batch: list[tuple] = []
    for row in history_rows(requests, targets):
        batch.append(row)
        last = row
        if len(batch) >= BATCH:
            _insert(conn, insert, batch)
    _insert(conn, insert, batch)
    conn.close()
    store = SqliteEventStore(path)
    if last is not None:  # what the store writes after a commit
        store.head_path.write_text(f"{Head(last[0], last[-1])}\n")
    return store


def write_history_postgres(
    state: SharedState, *, requests: int, targets: Sequence[str]
) -> EventStore:
    """The same history in a shared state's (empty) events table, by ``COPY``."""
    with state.pool.connection() as conn, conn.transaction():
        last: tuple | None = None
        with conn.cursor().copy(f"COPY {EVENTS} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in history_rows(requests, targets):
                copy.write_row(row)
                last = row
        if last is not None:
            conn.execute(
                "INSERT INTO chain_head (id, seq, hash) VALUES (1, %s, %s)", (last[0], last[-1])
            )
    with state.pool.connection() as conn:  # as `state copy` does after its bulk copy
        conn.execute(f"ANALYZE {EVENTS}")
    return PostgresEventStore(state.pool, schema=state.schema)


def _insert(conn: sqlite3.Connection, insert: str, batch: list[tuple]) -> None:
    conn.execute("BEGIN")
    conn.executemany(insert, batch)
    conn.execute("COMMIT")
    batch.clear()
