"""The targets the fault tests run on, and what is checked once a fault has played out.

- ``plain``: a small database, backups to a folder, revisions without sleeps
  (Slack faults, a locked state file, pg_dump missing);
- ``quick``: the same with a 2 s sleep inside each table-pair revision, so a
  connection can be cut while a revision runs;
- ``dump``: ~30 MiB of rows, backups to a folder (pg_dump killed mid-dump);
- ``disk``: the same rows, backups to ``small-disk/``, where the test mounts
  a tmpfs too small for them (disk full);
- ``s3small`` and ``s3big``: backups to S3 through the relay (the bucket on
  moto), in 5 MiB parts: small ones go up in one PUT, big ones in parts.

The world's targets store uncompressed dumps; those whose fault is the
backup's (``dump``, ``disk``, ``s3big``) use the default zstd stream, ~16 MiB
for the big rows (hex digits compress about two to one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from commands.pipeline.run_lock import run_lock
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import EventKind, RequestState
from tests.support.reliability.after_crash import leftovers, told_once
from tests.support.reliability.bot_process import wait_for
from tests.support.reliability.http_relay import HttpRelay
from tests.support.reliability.observe import Bucket
from tests.support.reliability.world import (
    DEV,
    HEAD,
    ORDER,
    RUN_TIMEOUT,
    TABLES_OF,
    Target,
    Templates,
    World,
    database_revision,
    tables,
)

SMALL_DISK = "small-disk"
ZSTD = {"backup_compression": '"zstd:1"'}


@dataclass(frozen=True)
class FaultWorld:
    """The bot on the fault targets, the bucket its S3 targets write to, the relay before it."""

    world: World
    bucket: Bucket
    relay: HttpRelay


def fault_targets(
    server: DatabaseUrl, templates: Templates, *, bucket: str, s3_endpoint: str
) -> list[Target]:
    def target(name: str, template: str, sleep_s: float = 0, **keys: str) -> Target:
        database = server.with_database(f"fault_{name}")
        return Target(name, database, template, keys, sleep_s=sleep_s)

    s3 = {"s3_endpoint_url": f'"{s3_endpoint}"', "s3_part_size_mb": "5"}
    return [
        target("plain", templates.small, backup='"file://backups/plain"'),
        target("quick", templates.small, sleep_s=2.0, backup='"file://backups/quick"'),
        target("dump", templates.big, backup='"file://backups/dump"', **ZSTD),
        target("disk", templates.big, backup=f'"file://{SMALL_DISK}"', **ZSTD),
        target("s3small", templates.small, backup=f'"s3://{bucket}/s3small"', **s3),
        target("s3big", templates.big, backup=f'"s3://{bucket}/s3big"', **s3, **ZSTD),
    ]


def finished(world: World, request_id: str) -> RequestState:
    """Wait for the run's end; its final state."""
    wait_for(lambda: world.request(request_id).state.is_final, RUN_TIMEOUT, "the run's end")
    return world.request(request_id).state


def message_text(world: World, channel: str, ts: str) -> str:
    """Everything a person reads in a message as it stands now (text and blocks)."""
    message = world.bot.slack.workspace.messages[channel][ts]
    return message.text + "\n" + json.dumps(message.blocks, ensure_ascii=False)


def thread_texts(world: World, channel: str, ts: str) -> list[str]:
    """The replies in the thread of the message ``ts``, oldest first."""
    found = list(world.bot.slack.workspace.messages.get(channel, {}).values())
    return [
        m.text + "\n" + json.dumps(m.blocks, ensure_ascii=False)
        for m in found
        if m.thread_ts == ts and m.ts != ts
    ]


def check_database_at(world: World, target: Target, revision: str | None) -> None:
    """The database holds ``revision`` and exactly the tables of the revisions up to it."""
    assert database_revision(target.database) == revision
    present = tables(target.database)
    upto = ORDER.index(revision) if revision else -1
    for index, name in enumerate(ORDER):
        for table in TABLES_OF[name]:
            assert (table in present) == (index <= upto), (name, table, sorted(present))


def check_common(world: World, target: Target, request_id: str, bucket: Bucket | None) -> None:
    """What every fault must leave: the run lock free, the chain verifying, nothing the
    backup wrote left behind (partial files, open uploads, scratch databases)."""
    with run_lock(target.database, label="fault check"):
        pass
    assert world.store.verify().ok
    assert leftovers(world, target, bucket) == set()
    started = {e.data["backup_id"] for e in world.events(request_id, EventKind.BACKUP_STARTED)}
    ended = {
        e.data["backup_id"]
        for e in world.events(request_id, EventKind.BACKUP_SUCCEEDED, EventKind.BACKUP_FAILED)
    }
    assert started == ended, (started, ended)


def check_failed(
    world: World,
    target: Target,
    request_id: str,
    message_ts: str,
    *,
    step: str,
    says: str,
    at: str | None = None,
    bucket: Bucket | None = None,
) -> str:
    """The run failed at ``step`` saying ``says`` on the request message, in its thread
    and to ops (once); the database is at ``at``; nothing left behind. The reason."""
    assert finished(world, request_id) is RequestState.FAILED
    closure = world.request(request_id).closure
    assert closure is not None
    assert closure.details["failed_step"] == step, closure.details
    assert says in closure.reason, closure.reason
    told_once(world, request_id, f"{request_id}:outcome:ops", "failed")
    wait_for(
        lambda: f"Failed* at {step}" in message_text(world, DEV, message_ts),
        60,
        "the request message to say it failed",
    )
    assert says in message_text(world, DEV, message_ts)
    wait_for(
        lambda: any(says in t for t in thread_texts(world, DEV, message_ts)),
        60,
        "the reason in the request's thread",
    )
    check_database_at(world, target, at)
    check_common(world, target, request_id, bucket)
    return closure.reason


def check_succeeded(
    world: World, target: Target, request_id: str, bucket: Bucket | None = None
) -> None:
    """The run succeeded, the database is at head, ops were told once."""
    assert finished(world, request_id) is RequestState.SUCCEEDED, world.request(request_id)
    told_once(world, request_id, f"{request_id}:outcome:ops", "succeeded")
    check_database_at(world, target, HEAD)
    check_common(world, target, request_id, bucket)
