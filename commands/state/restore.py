"""``state restore``: the SQLite state brought back from its replica, proven before use.

Litestream writes the replica's newest copy into a scratch folder beside the
destination (with SQLite's quick integrity check). The copy's hash chain is then
walked, against the heads recorded elsewhere (``--expect-head``, and a head file
left beside the destination if the disk kept it): a copy that breaks its chain is
never put in place; one that ends before such a head lost the events after its end,
and is put in place only when the operator accepts that loss. The copy gets a head
file and a ``state_restored`` event saying where it came from and what it was
checked against, and only then is moved to the destination, which must not exist:
a restore never overwrites a state (a live one above all).

The replica can only be behind the file it copies, never ahead: what the restore
cannot know without a head recorded elsewhere is how many events the replica had
not received yet (the replication lag when the disk was lost; ``/health`` and
``/metrics`` show it while the bot runs).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from audit.chain import Head, find_breach
from audit.sqlite_store import SqliteEventStore
from commands.errors import ExitCode, MigrateBotError
from commands.state.audit_reading import AuditLogBrokenError
from commands.state.litestream import ReplicationError, run_litestream, write_config
from commands.state.location import StateReplica
from commands.state.vocabulary import EventKind

SIDECARS = ("-wal", "-shm", "-journal")


class StateExistsError(MigrateBotError):
    """The destination holds a state already: a restore never overwrites one."""

    exit_code = ExitCode.REFUSED


class EventsLostError(MigrateBotError):
    """The replica's copy ends before a head recorded elsewhere: events after it are lost."""

    exit_code = ExitCode.FAILED


class ReplicaHoldsStateError(MigrateBotError):
    """The state file is gone but its replica holds one: starting fresh would fork it."""

    exit_code = ExitCode.REFUSED


@dataclass(frozen=True)
class RestoreReport:
    path: Path
    replica: str
    events: int  # events restored (before the ``state_restored`` event)
    head: Head | None  # the restored copy's own head
    checked: tuple[Head, ...]  # heads recorded elsewhere that it reaches
    lost_after: Head | None  # a head it does not reach, accepted with ``accept_loss``


def restore_state(
    replica: StateReplica,
    destination: Path,
    *,
    expected: Sequence[Head] = (),
    accept_loss: bool = False,
    actor: str,
) -> RestoreReport:
    """Restore ``replica`` to ``destination``; raises ``StateExistsError``,
    ``ReplicationError`` (Litestream failed, or the replica is empty),
    ``AuditLogBrokenError`` (the copy's chain is broken) or ``EventsLostError``."""
    destination = destination.resolve()
    _refuse_existing(destination)
    marks = list(expected)
    left = _head_left_beside(destination)
    if left is not None:
        marks.append(left)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restoring-", dir=destination.parent) as scratch:
        folder = Path(scratch)
        copy = folder / destination.name
        config = write_config(folder, database=destination, replica=replica, control_socket=None)
        run_litestream(
            "restore", "-o", str(copy), "-integrity-check", "quick", str(destination),
            config=config,
        )  # fmt: skip
        store = SqliteEventStore(copy)
        try:
            checked = _checked(store, marks, accept_loss=accept_loss, replica=replica)
            report = RestoreReport(destination, str(replica), *checked)
            if report.head is not None:
                store.adopt_head(report.head)
            store.append(
                kind=EventKind.STATE_RESTORED,
                actor=actor,
                data={
                    "replica": str(replica),
                    "events": report.events,
                    "head": str(report.head) if report.head else None,
                    "checked_heads": [str(h) for h in report.checked],
                    "lost_after": str(report.lost_after) if report.lost_after else None,
                },
            )
        finally:
            store.close()
        _put_in_place(copy, destination)
    return report


def _checked(
    store: SqliteEventStore, marks: list[Head], *, accept_loss: bool, replica: StateReplica
) -> tuple[int, Head | None, tuple[Head, ...], Head | None]:
    """The copy's chain walked against ``marks``; raises unless it is whole up to its end
    and, short of ``accept_loss``, reaches every mark."""
    events = list(store.iter_events())
    head = Head(events[-1].seq, events[-1].hash) if events else None
    last = head.seq if head else 0
    beyond = sorted((m for m in marks if m.seq > last), key=lambda m: m.seq)
    within = [m for m in marks if m.seq <= last]
    breach = find_breach(events, within)
    if breach is not None:
        raise AuditLogBrokenError(store.verify(within))
    if beyond and not accept_loss:
        raise EventsLostError(
            f"the replica {replica} holds events up to {last}, but event {beyond[-1].seq} was"
            f" recorded as a head ({beyond[-1]}): {beyond[-1].seq - last} event(s) after"
            f" {last} were never replicated; --accept-loss restores it anyway and records"
            " the loss in the log"
        )
    return len(events), head, tuple(within), beyond[-1] if beyond else None


def _refuse_existing(destination: Path) -> None:
    for path in (destination, *(destination.with_name(destination.name + s) for s in SIDECARS)):
        if path.exists():
            raise StateExistsError(
                f"{path} exists: a restore never overwrites a state (a bot may be running on"
                " it). Stop the bot and move the file aside, or restore --to another path"
            )


def _head_left_beside(destination: Path) -> Head | None:
    """A head file the lost state left beside it (its disk survived): a recorded head."""
    head_file = destination.with_name(destination.name + ".head")
    try:
        return Head.parse(head_file.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise MigrateBotError(
            f"{head_file} is unreadable: move it aside, or give the head it should hold"
            " with --expect-head"
        ) from None


def _put_in_place(copy: Path, destination: Path) -> None:
    """Move the verified copy and its head file to ``destination``; a hard link first,
    so a state that appeared meanwhile is never replaced."""
    try:
        os.link(copy, destination)
    except FileExistsError:
        raise StateExistsError(
            f"{destination} appeared while restoring: nothing replaced"
        ) from None
    head = copy.with_name(copy.name + ".head")
    if head.exists():
        os.replace(head, destination.with_name(destination.name + ".head"))
    meta = destination.with_name(f".{destination.name}-litestream")
    if meta.exists():  # the lost file's replication state would confuse the next replicator
        meta.rename(meta.with_name(f"{meta.name}.before-restore-{int(time.time())}"))


def refuse_fresh_state_over_replica(database: Path, replica: StateReplica) -> None:
    """Before starting on ``database`` with no file there: raise
    ``ReplicaHoldsStateError`` if the replica already holds a state (restore it
    instead; a fresh file would start a second history in the same place)."""
    if database.exists():
        return
    with tempfile.TemporaryDirectory(prefix="migrate-bot-litestream-") as scratch:
        config = write_config(
            Path(scratch), database=database, replica=replica, control_socket=None
        )
        try:
            listed = run_litestream("ltx", "-json", str(database.resolve()), config=config)
        except ReplicationError as exc:
            raise ReplicationError(f"cannot read the state's replica {replica}: {exc}") from None
    if json.loads(listed.stdout or "null"):
        raise ReplicaHoldsStateError(
            f"there is no state file at {database}, but its replica {replica} holds a state:"
            f" restore it first (`migrate-bot state restore`, docs/operations.md), or point"
            " state_replica elsewhere to start a new state"
        )
