"""Killing the bot at a chosen moment, and everything checked once it is back.

``kill`` notes what the moment left (child processes, partial files, open
uploads, scratch databases) and SIGKILLs the bot; ``restart`` starts it on the
same state file. ``check_interrupted`` then asserts the brief's list: the
request is ``interrupted`` at the right step; the database holds a revision
the audit log explains, and never half of a transactional revision; the run
lock is free; the chain verifies; the ops channel was told exactly once;
nothing the backup left behind remains, and what was removed is recorded;
the children died with the bot; an old Approve click starts nothing.
``check_announced`` asserts the same of a run killed while its outcome was
being posted: the outcome stays as recorded, and each announcement reaches
Slack exactly once.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from audit.chain import Event
from bot.local_slack.faults import Fault
from commands.pipeline.run_lock import run_lock
from commands.state.vocabulary import EventKind, RequestState
from tests.support.reliability.bot_process import wait_for
from tests.support.reliability.observe import (
    Bucket,
    alive,
    descendants,
    partial_files,
    scratch_databases,
)
from tests.support.reliability.world import (
    ALICE,
    DEV,
    HEAD,
    ORDER,
    TABLES_OF,
    Target,
    World,
    database_revision,
    tables,
)


def leftovers(world: World, target: Target, bucket: Bucket | None) -> set[str]:
    """Partial files, scratch databases, open uploads, and stored backups no
    ``backup_succeeded`` records."""
    folder = world.backups_folder(target)
    found = {str(p) for p in partial_files(folder)}
    found |= set(scratch_databases(target.database))
    recorded = {
        event.data["uri"].rsplit("/", 1)[-1]
        for event in world.store.events(
            target=target.name, kinds=[EventKind.BACKUP_SUCCEEDED.value]
        )
    }
    if folder.is_dir():
        found |= {
            str(p) for p in folder.iterdir() if p.suffix == ".dump" and p.name not in recorded
        }
    if bucket is not None:
        found |= {f"s3://{bucket.name}/{key}" for key in bucket.open_uploads()}
        found |= {
            f"s3://{bucket.name}/{key}"
            for key in bucket.objects()
            if key.startswith(f"{target.name}/") and key.rsplit("/", 1)[-1] not in recorded
        }
    return found


@dataclass(frozen=True)
class Killed:
    """What was there at the moment of the kill."""

    children: dict[int, str]
    left: frozenset[str]


def kill(world: World, target: Target, bucket: Bucket | None = None) -> Killed:
    """SIGKILL the bot now; what its children and its backup had left at that moment."""
    assert world.bot.process is not None
    children = descendants(world.bot.process.pid)
    left = frozenset(leftovers(world, target, bucket))
    world.bot.kill()
    return Killed(children, left)


def restart(world: World, killed: Killed) -> None:
    """Start the bot again once the killed one's children are gone (they die with it)."""
    wait_for(lambda: not alive(killed.children), 30, f"the children {killed.children} to die")
    world.bot.start()


def outbox_state(world: World, key: str) -> str | None:
    with sqlite3.connect(world.root / "state.sqlite3", timeout=30) as db:
        row = db.execute("SELECT state FROM outbox WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def told_once(world: World, request_id: str, key: str, word: str) -> None:
    """The ops post ``key`` was delivered, and the ops channel holds exactly one message
    about ``request_id`` saying ``word``."""
    wait_for(lambda: outbox_state(world, key) == "delivered", 60, f"{key} delivered")
    found = world.ops_messages(request_id, word)
    assert len(found) == 1, [m.text for m in found]


def cleaned(world: World, target: Target) -> dict[str, str]:
    """Location → kind of everything ``backup_cleaned`` events say was removed."""
    return {
        removed["location"]: removed["kind"]
        for event in world.store.events(target=target.name, kinds=[EventKind.BACKUP_CLEANED.value])
        for removed in event.data["removed"]
    }


def check_backups_closed(world: World, target: Target, request_id: str) -> None:
    """Every backup the run started has an outcome in the log (failed: interrupted)."""
    started = {e.data["backup_id"] for e in world.events(request_id, EventKind.BACKUP_STARTED)}
    ended = {
        e.data["backup_id"]
        for e in world.store.events(
            target=target.name,
            kinds=[EventKind.BACKUP_SUCCEEDED.value, EventKind.BACKUP_FAILED.value],
        )
    }
    assert started <= ended, started - ended


def check_revision_explained(world: World, target: Target, interrupted: Event) -> str | None:
    """The database is at the last revision the log says was applied, or at the one it
    says was in flight (its commit may have beaten the kill); whole revisions only."""
    request_id = interrupted.request_id
    assert request_id is not None
    steps = world.steps(request_id)
    done = [rev for step, status, rev in steps if step == "apply" and status == "succeeded" and rev]
    started = [
        rev for step, status, rev in steps if step == "apply" and status == "started" and rev
    ]
    last = interrupted.data["last_revision_applied"]
    assert last == (done[-1] if done else None)
    explained = {last}
    if started and started[-1] not in done:
        explained.add(started[-1])
    now = database_revision(target.database)
    assert now in explained, (now, explained)
    assert interrupted.data["database_revisions"] == ([now] if now else [])
    present = tables(target.database)
    upto = ORDER.index(now) if now else -1
    for index, revision in enumerate(ORDER):
        for table in TABLES_OF[revision]:
            assert (table in present) == (index <= upto), (revision, table, sorted(present))
    return now


def check_interrupted(
    world: World,
    target: Target,
    request_id: str,
    *,
    step: str,
    killed: Killed,
    bucket: Bucket | None = None,
) -> tuple[str | None, list[str]]:
    """Everything the brief asks after a restart; the revision the database is at, and
    the kinds of leftovers cleaned up."""
    request = world.request(request_id)
    assert request.state is RequestState.INTERRUPTED, request.state
    interrupted = world.events(request_id, EventKind.RUN_INTERRUPTED)
    assert len(interrupted) == 1
    assert interrupted[0].data["step"] == step, (interrupted[0].data, step)
    revision = check_revision_explained(world, target, interrupted[0])
    told_once(world, request_id, f"{request_id}:interrupted:ops", "interrupted")
    removed = check_settled(
        world, target, request_id, RequestState.INTERRUPTED, killed=killed, bucket=bucket
    )
    return revision, removed


def held_calls(world: World, fault: Fault) -> int:
    """Calls the local Slack server has answered that ``fault`` matches."""
    return sum(fault.matches(c.method, c.args) for c in world.bot.slack.calls())


def check_announced(
    world: World, target: Target, request_id: str, *, held: Fault, answered: int, killed: Killed
) -> None:
    """After a kill while the outcome was being posted: the run stays succeeded (nothing
    marks it interrupted), the database at head, and once the held call has been
    answered (``answered`` were before the kill), each announcement is in Slack once."""
    request = world.request(request_id)
    assert request.state is RequestState.SUCCEEDED, request.state
    assert not world.events(request_id, EventKind.RUN_INTERRUPTED)
    assert len(world.events(request_id, EventKind.RUN_FINISHED)) == 1
    assert database_revision(target.database) == HEAD
    assert {t for r in ORDER for t in TABLES_OF[r]} <= tables(target.database)
    wait_for(lambda: held_calls(world, held) > answered, 60, "the held call to be answered")
    key = f"{request_id}:outcome"
    told_once(world, request_id, f"{key}:ops", "succeeded")
    for suffix, channel, words in (
        ("thread", DEV, f"{request_id} succeeded: details"),
        ("requester", "D" + ALICE[1:], "succeeded"),
    ):
        wait_for(lambda s=suffix: outbox_state(world, f"{key}:{s}") == "delivered", 60, suffix)
        found = [
            m
            for m in world.bot.slack.workspace.messages.get(channel, {}).values()
            if request_id in m.text and words in m.text and m.ts != m.thread_ts
        ]
        assert len(found) == 1, (suffix, [m.text for m in found])
    check_settled(world, target, request_id, RequestState.SUCCEEDED, killed=killed, bucket=None)


def check_settled(
    world: World,
    target: Target,
    request_id: str,
    state: RequestState,
    *,
    killed: Killed,
    bucket: Bucket | None,
) -> list[str]:
    """The lock is free, the chain verifies, nothing is left behind (what was, is cleaned
    and recorded), every backup has an outcome, and an old Approve click starts nothing.
    Returns the kinds of what the kill had left and cleanup removed."""
    with run_lock(target.database, label="reliability check"):
        pass  # free: nobody holds it
    assert world.store.verify().ok
    assert leftovers(world, target, bucket) == set()
    removed = cleaned(world, target)
    assert killed.left <= removed.keys(), (killed.left, removed)
    check_backups_closed(world, target, request_id)
    answer = world.approve_again(world.request(request_id))
    assert "cannot be approved" in answer, answer
    assert len(world.events(request_id, EventKind.RUN_STARTED)) == 1
    assert world.request(request_id).state is state
    return sorted({removed[location] for location in killed.left})
