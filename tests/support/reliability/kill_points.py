"""Where the crash tests kill the bot: a moment in a run, recognised from outside.

Each ``KillPoint`` names the step the run must be in, the table row it counts
for, the target it runs on, and ``reached``: a look at real progress (audit
events, a partial file's size, parts in moto, a ``pg_sleep`` running inside a
revision or in the smoke SQL, pre-flight waiting on the replica) that says
"now". ``hold_replica`` makes the replica's connections hang from the
approval on, so pre-flight waits there (its connection attempt is seen).

An ``OutcomePoint`` is a kill while the run's outcome is being posted: the
local Slack server holds one of the outcome's calls (``fault``, made for the
request) and the kill lands while that call is in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.local_slack.faults import Fault
from tests.support.reliability.crash_targets import CrashWorld
from tests.support.reliability.observe import partial_bytes, sleeping_for
from tests.support.reliability.world import ALICE, DEV, OPS, Target

MIB = 1 << 20

Reached = Callable[[CrashWorld, Target, str], bool]


@dataclass(frozen=True)
class KillPoint:
    id: str
    fault: str  # the row of docs/reliability.md it counts for
    target: str  # quick, dump, upload or verify (see test_crash_steps)
    steps: tuple[str, ...]  # the step(s) the run may be in: one, or two at a boundary
    reached: Reached
    hold_replica: bool = False


def step_started(step: str) -> Reached:
    return lambda crash, _t, rid: crash.world.has_step(rid, step, "started")


def waiting_on_replica(seconds: float) -> Reached:
    """Pre-flight has waited ``seconds`` for the (held) replica to answer."""
    return lambda crash, _t, rid: (
        crash.world.has_step(rid, "preflight", "started") and crash.replica.held_for(seconds)
    )


def dumped(megabytes: int) -> Reached:
    return lambda crash, target, _rid: (
        partial_bytes(crash.world.backups_folder(target)) >= megabytes * MIB
    )


def parts_uploaded(count: int) -> Reached:
    return lambda crash, _t, _rid: crash.bucket.parts() >= count


def first_part_in_flight(crash: CrashWorld, _t: Target, _rid: str) -> bool:
    """The multipart upload is open and its first part is on its way (the relay holds it)."""
    return bool(crash.bucket.open_uploads()) and crash.bucket.parts() == 0


def backup_done(crash: CrashWorld, _t: Target, rid: str) -> bool:
    return crash.world.has_step(rid, "backup", "succeeded")


def revision_done(revision: str) -> Reached:
    return lambda crash, _t, rid: crash.world.has_step(rid, "apply", "succeeded", revision)


def sleeping_in(step: str, revision: str | None, seconds: float) -> Reached:
    """The run is in ``step`` (at ``revision``) and its pg_sleep has run ``seconds``."""

    def reached(crash: CrashWorld, target: Target, rid: str) -> bool:
        return crash.world.has_step(rid, step, "started", revision) and sleeping_for(
            target.database, seconds
        )

    return reached


PREFLIGHT = "SIGKILL during pre-flight"
DUMP = "SIGKILL mid-dump (file destination, restore test in a scratch database)"
UPLOAD = "SIGKILL mid-upload (S3 multipart, 5 MiB parts)"
BETWEEN = "SIGKILL between revisions"
INSIDE = "SIGKILL inside a transactional revision"
VERIFY = "SIGKILL during verification (slow smoke SQL)"

OUTCOME = "SIGKILL while posting the outcome (the Slack call in flight)"
HOLD_S = 3.0  # how long the local Slack server holds the call the kill lands in


@dataclass(frozen=True)
class OutcomePoint:
    """A kill while ``call`` (one of the outcome's Slack calls) is held by ``fault``."""

    id: str
    call: str
    fault: Callable[[str], Fault]  # for the request's id


def held_update(request_id: str) -> Fault:
    text = f"{request_id}: upgrade verify — succeeded"
    return Fault("chat.update", delay=HOLD_S, channel=DEV, text_contains=text)


def held_thread_reply(request_id: str) -> Fault:
    text = f"{request_id} succeeded: details"
    return Fault("chat.postMessage", delay=HOLD_S, channel=DEV, text_contains=text)


def held_ops_post(request_id: str) -> Fault:
    return Fault("chat.postMessage", delay=HOLD_S, channel=OPS, text_contains=request_id)


def held_requester_note(request_id: str) -> Fault:
    dm = "D" + ALICE[1:]  # the local workspace's direct-message channel with Alice
    return Fault("chat.postMessage", delay=HOLD_S, channel=dm, text_contains=request_id)


# The first of each step runs in CI; the rest with --full.
FAST = [
    KillPoint("preflight-replica", PREFLIGHT, "quick", ("preflight",), waiting_on_replica(0), True),
    KillPoint("upload-2-parts", UPLOAD, "upload", ("backup",), parts_uploaded(2)),
    KillPoint("after-r1", BETWEEN, "quick", ("apply",), revision_done("r1_pair")),
    KillPoint("inside-r2", INSIDE, "quick", ("apply",), sleeping_in("apply", "r2_duo", 0.5)),
    KillPoint("verify-smoke", VERIFY, "verify", ("verify",), sleeping_in("verify", None, 0.5)),
]
OUTCOME_FAST = [OutcomePoint("outcome-ops-post", "the ops channel's announcement", held_ops_post)]
FULL = [
    KillPoint("dump-8MiB", DUMP, "dump", ("backup",), dumped(8)),
    KillPoint(
        "preflight-replica-1s", PREFLIGHT, "quick", ("preflight",), waiting_on_replica(1), True
    ),
    KillPoint(
        "preflight-start", PREFLIGHT, "dump", ("preflight", "backup"), step_started("preflight")
    ),
    KillPoint(
        "preflight-start-s3",
        PREFLIGHT,
        "upload",
        ("preflight", "backup"),
        step_started("preflight"),
    ),
    KillPoint("dump-1MiB", DUMP, "dump", ("backup",), dumped(1)),
    KillPoint("dump-4MiB", DUMP, "dump", ("backup",), dumped(4)),
    KillPoint("dump-14MiB", DUMP, "dump", ("backup",), dumped(14)),
    KillPoint("dump-20MiB", DUMP, "dump", ("backup",), dumped(20)),
    KillPoint("upload-first-part", UPLOAD, "upload", ("backup",), first_part_in_flight),
    KillPoint("upload-1-part", UPLOAD, "upload", ("backup",), parts_uploaded(1)),
    KillPoint("upload-3-parts", UPLOAD, "upload", ("backup",), parts_uploaded(3)),
    KillPoint("upload-4-parts", UPLOAD, "upload", ("backup",), parts_uploaded(4)),
    # 5 of ~7 parts: the upload may complete (and even be recorded) before the kill lands
    KillPoint("upload-5-parts", UPLOAD, "upload", ("backup", "apply"), parts_uploaded(5)),
    KillPoint("after-backup", BETWEEN, "upload", ("backup", "apply"), backup_done),
    # r3 runs in milliseconds: the kill may land in it or just after it, in verify
    KillPoint("after-r2", BETWEEN, "quick", ("apply", "verify"), revision_done("r2_duo")),
    # after the last revision: on `verify`, whose smoke SQL sleeps, so the run is still there
    KillPoint("after-r3", BETWEEN, "verify", ("apply", "verify"), revision_done("r3_col")),
    KillPoint("inside-r1-early", INSIDE, "quick", ("apply",), sleeping_in("apply", "r1_pair", 0)),
    KillPoint("inside-r1-late", INSIDE, "quick", ("apply",), sleeping_in("apply", "r1_pair", 1.2)),
    KillPoint("inside-r2-early", INSIDE, "quick", ("apply",), sleeping_in("apply", "r2_duo", 0)),
    KillPoint("inside-r2-late", INSIDE, "quick", ("apply",), sleeping_in("apply", "r2_duo", 1.2)),
    KillPoint("verify-start", VERIFY, "verify", ("verify",), step_started("verify")),
    KillPoint("verify-smoke-late", VERIFY, "verify", ("verify",), sleeping_in("verify", None, 2)),
]
OUTCOME_FULL = [
    OutcomePoint("outcome-message-update", "the request message's final update", held_update),
    OutcomePoint("outcome-thread-reply", "the details in the request's thread", held_thread_reply),
    OutcomePoint("outcome-requester-note", "the requester's direct message", held_requester_note),
]
