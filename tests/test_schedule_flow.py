"""Scheduled requests end to end, on a clock the tests move: the real Bolt app over HTTP
on signed requests, the runtime with its real APScheduler (jobs in the state file's
SQLite), the local Slack server and a real PostgreSQL.

`/migrate schedule` → the request bound to a window, stakeholders told → approved
before it opens → reminders 24 h and 1 h before → at the window: pre-flight, the
hooks, the run, the outcome; and the other ways a slot ends (not approved,
missed while the bot was down, past the window's end), the Schedule modal,
rescheduling and cancelling, a restart on the same store.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit.chain import Event
from bot.flows.asker import Asker
from bot.local_slack.workspace import Message, Workspace
from bot.runtime import BotRuntime
from bot.views import limits
from bot.views.ids import ActionId, BlockId, ViewId
from commands.config.targets_file import Config, parse_config
from commands.migration.planning import status
from commands.postgres.database_url import DatabaseUrl
from commands.requests import Request
from commands.scheduling.scheduler import JOB_TABLE
from commands.slash.commands import Schedule
from commands.state.audit_reading import verify
from commands.state.vocabulary import EventKind, RequestState
from tests.support.alembic_projects import table, write_project
from tests.support.flow_bot import FlowBot, flow_bot
from tests.support.flow_messages import (
    ALICE,
    BOB,
    DEV,
    OPS,
    PM,
    STAKE,
    click,
    elements,
    ephemeral_after,
    header,
    opened_modal,
    text_of,
    thread_text,
    top_level,
    view_body,
)
from tests.support.pipeline_support import ALTER_HOT, HOT_TABLE, SLOW
from tests.support.polling import wait_for
from tests.support.scheduler_clock import MovableClock, apscheduler_reads

TARGETS = ("weekly", "idle", "again", "hooked", "brief")
WEDNESDAY = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SUNDAY_WINDOW = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)  # Sun 6 Dec 02:00 in Berlin
RUN_TIMEOUT = 240


@dataclass
class Bot(FlowBot):
    clock: MovableClock


def schedule_config(tmp: Path) -> Config:
    small = write_project(tmp / "small", [table("w_one"), table("w_two", ("w_one",))])
    slow = write_project(tmp / "slow", [HOT_TABLE, ALTER_HOT, SLOW])
    freeze = [
        sys.executable,
        "-c",
        "import os; print('deploys frozen for', os.environ['MIGRATE_BOT_REQUEST_ID'],"
        " 'token=xoxb-1234-5678-frozenSECRET')",
    ]
    resume = [
        sys.executable,
        "-c",
        "import os; print('deploys resumed after', os.environ['MIGRATE_BOT_OUTCOME'])",
    ]
    refuse = [sys.executable, "-c", "import sys; print('deploy API said no'); sys.exit(3)"]
    common = 'approvers = ["U0BOB"]\nchecklist = []\nbackup = "file://backups"\n'
    common += f'stakeholders = ["{STAKE}", "{PM}"]\n'
    sundays = 'windows = ["Sun 02:00-04:00 Europe/Berlin"]\n'
    targets = {
        "weekly": (
            small,
            sundays + f"before_run = [{toml(freeze)}]\nafter_run = [{toml(resume)}]\n",
        ),
        "idle": (small, sundays),
        "again": (small, sundays),
        "hooked": (small, f"before_run = [{toml(refuse)}]\nafter_run = [{toml(resume)}]\n"),
        "brief": (slow, 'windows = ["daily 03:00-03:01 UTC"]\n'),
    }
    text = f'[bot]\nstate_path = "state.sqlite3"\nops_channel = "{OPS}"\n'
    for name, (project, keys) in targets.items():
        text += (
            f'\n[targets.{name}]\ndatabase_url_env = "{name.upper()}_DATABASE_URL"\n'
            f'script_location = "{project.as_posix()}"\n{common}{keys}'
        )
    return parse_config(text, source="schedule.toml", base=tmp)


def toml(argv: list[str]) -> str:
    """An argument list as a TOML array (JSON's strings are TOML basic strings)."""
    return json.dumps(argv)


@pytest.fixture(scope="module")
def bot(pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    config = schedule_config(tmp_path_factory.mktemp("schedule"))
    workspace = Workspace(users={ALICE: "alice", BOB: "bob", PM: "pm"})
    clock = MovableClock(WEDNESDAY)
    with (
        apscheduler_reads(clock),
        flow_bot(pg_server, config, TARGETS, workspace, clock=clock) as parts,
    ):
        yield Bot(parts.sender, parts.slack, parts.runtime, config, parts.open, parts.url, clock)


# --- helpers ------------------------------------------------------------------


def jump(bot: Bot, moment: datetime, runtime: BotRuntime | None = None) -> None:
    """Move the clock and let the scheduler look at once."""
    bot.clock.jump_to(moment)
    scheduler = (runtime or bot.runtime).scheduling.scheduler
    assert scheduler is not None
    scheduler.wakeup()


def command(bot: Bot, text: str, *, user: str = ALICE) -> tuple[str, str]:
    """Send ``/migrate text``: the ack's text and the first ephemeral answer after it
    (its text, or its blocks as JSON when it has blocks)."""
    since = len(bot.slack.workspace.ephemerals)
    code, body = bot.sender.post(bot.sender.command_body(text, user=user, channel=DEV))
    assert code == 200
    found = wait_for(lambda: [e for e in bot.slack.workspace.ephemerals[since:] if e.user == user])
    answer = json.dumps(found[0].blocks) if found[0].blocks else str(found[0].text)
    return json.loads(body or "{}").get("text", ""), answer


def message_of(bot: Bot, request_id: str) -> Message:
    return wait_for(
        lambda: next(
            (m for m in top_level(bot, DEV) if header(m).startswith(f"{request_id} ")), None
        )
    )


def scheduled(bot: Bot, text: str) -> tuple[Message, Request]:
    """``/migrate schedule …``: the request message and the request."""
    ack, answer = command(bot, text)
    assert "pre-flight" in ack and "is scheduled for" in answer, answer
    request_id = answer.split(" ")[0]
    return message_of(bot, request_id), bot.request(request_id)


def texts(bot: Bot, channel: str, request_id: str) -> list[str]:
    return [text_of(m) for m in top_level(bot, channel) if request_id in m.text]


def dms(bot: Bot, user: str, request_id: str) -> list[str]:
    return texts(bot, "D" + user[1:], request_id)


def events_of(runtime: BotRuntime, request_id: str, kind: EventKind) -> list[Event]:
    return runtime.store.events(request_id=request_id, kinds=[kind])


def fake_ts(event: Event) -> datetime:
    return datetime.fromisoformat(event.ts)


def finished(bot: Bot, request_id: str, runtime: BotRuntime | None = None) -> Request:
    requests = (runtime or bot.runtime).requests
    return wait_for(
        lambda: (r := requests.get(request_id)).state.is_final and r, timeout=RUN_TIMEOUT
    )


def job_times(runtime: BotRuntime, request_id: str) -> dict[str, datetime]:
    scheduler = runtime.scheduling.scheduler
    assert scheduler is not None
    return {
        job_id.split(":", 1)[1]: at
        for job_id, at in scheduler.jobs()
        if job_id.startswith(f"{request_id}:")
    }


# --- the flow -----------------------------------------------------------------


def test_a_scheduled_request_is_reminded_then_runs_in_its_window(bot: Bot) -> None:
    message, request = scheduled(bot, "schedule weekly next-window")
    assert request.schedule is not None
    assert request.schedule.slot.start == SUNDAY_WINDOW
    assert request.schedule.slot.end == SUNDAY_WINDOW + timedelta(hours=2)
    assert request.state is RequestState.AWAITING_APPROVAL
    assert "Scheduled for" in text_of(message) and "Sun 6 Dec 2026 02:00-04:00" in text_of(message)
    assert elements(message)[ActionId.SCHEDULE]["text"]["text"] == "Reschedule"
    assert limits.problems(message.blocks) == []
    # announced where the runbook says: ops, stakeholders (a channel and a person), the thread
    for where in (lambda: texts(bot, OPS, request.id), lambda: texts(bot, STAKE, request.id)):
        assert "is scheduled for" in wait_for(where)[0]
    wait_for(lambda: dms(bot, PM, request.id))
    assert job_times(bot.runtime, request.id) == {
        "start": SUNDAY_WINDOW,
        "remind:86400": SUNDAY_WINDOW - timedelta(hours=24),
        "remind:3600": SUNDAY_WINDOW - timedelta(hours=1),
    }

    since = len(bot.slack.workspace.ephemerals)
    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    assert "it runs at Sun 6 Dec 2026 02:00-04:00" in ephemeral_after(bot, BOB, since)
    assert bot.request(request.id).state is RequestState.APPROVED  # approval starts nothing
    wait_for(lambda: "approved: it starts then" in text_of(message))

    for before, words in ((timedelta(hours=24), "starts in 24 h"), (timedelta(hours=1), "1 h")):
        jump(bot, SUNDAY_WINDOW - before)
        wait_for(lambda w=words: [t for t in texts(bot, STAKE, request.id) if w in t])
        sent = events_of(bot.runtime, request.id, EventKind.REMINDER_SENT)[-1]
        assert sent.data["before_s"] == before.total_seconds()
        assert timedelta(0) <= fake_ts(sent) - (SUNDAY_WINDOW - before) < timedelta(seconds=30)
    assert events_of(bot.runtime, request.id, EventKind.RUN_STARTED) == []

    jump(bot, SUNDAY_WINDOW)
    wait_for(lambda: [t for t in texts(bot, STAKE, request.id) if "starting now" in t])
    assert finished(bot, request.id).state is RequestState.SUCCEEDED
    started = events_of(bot.runtime, request.id, EventKind.RUN_STARTED)
    assert len(started) == 1
    assert timedelta(0) <= fake_ts(started[0]) - SUNDAY_WINDOW < timedelta(seconds=30)
    assert status(bot.open(bot.config.target("weekly"))).at_head
    wait_for(lambda: [t for t in texts(bot, STAKE, request.id) if "succeeded" in t])
    wait_for(lambda: [t for t in texts(bot, OPS, request.id) if "succeeded" in t])
    # the deploy-freeze hooks ran around it, recorded, their output in the thread (redacted)
    hooks = [e.data for e in events_of(bot.runtime, request.id, EventKind.HOOK_RAN)]
    assert [(h["phase"], h["ok"]) for h in hooks] == [("before_run", True), ("after_run", True)]
    assert hooks[1]["output"] == "deploys resumed after succeeded"
    thread = wait_for(
        lambda: "deploys resumed" in (t := thread_text(bot, message)) and t, timeout=30
    )
    assert f"deploys frozen for {request.id}" in thread and "frozenSECRET" not in thread
    assert "frozenSECRET" not in json.dumps([e.data for e in bot.runtime.store.events()])
    assert job_times(bot.runtime, request.id) == {}
    assert verify(bot.runtime.store).ok


def test_a_request_not_approved_when_its_window_opens_expires(bot: Bot) -> None:
    _, outside = command(bot, "schedule idle at 2026-12-09 12:00")
    assert "outside idle's maintenance windows" in outside and "next-window" in outside
    assert not any(header(m).endswith("upgrade idle") for m in top_level(bot, DEV))
    message, request = scheduled(bot, "schedule idle at 2026-12-13 02:30")  # Berlin time
    assert request.schedule is not None
    start = request.schedule.slot.start
    assert start == datetime(2026, 12, 13, 1, 30, tzinfo=UTC)
    jump(bot, start)
    expired = finished(bot, request.id)
    assert expired.state is RequestState.EXPIRED and expired.run is None
    assert expired.closure is not None and "not approved before its slot" in expired.closure.reason
    for where in (STAKE, OPS):
        wait_for(lambda w=where: [t for t in texts(bot, w, request.id) if "did not run" in t])
    wait_for(lambda: "did not run" in thread_text(bot, message))
    wait_for(lambda: "Expired" in text_of(message) and ActionId.APPROVE not in elements(message))


def asked_upgrade(bot: Bot, target: str) -> tuple[Message, str]:
    """Alice asks ``/migrate upgrade TARGET`` in DEV: the new request message and its id."""
    before = {m.ts for m in top_level(bot, DEV)}
    text = f"upgrade {target}"
    code, _ = bot.sender.post(bot.sender.command_body(text, user=ALICE, channel=DEV))
    assert code == 200
    message = wait_for(
        lambda: next(
            (m for m in top_level(bot, DEV) if m.ts not in before and text in header(m)), None
        )
    )
    return message, header(message).split(" ")[0]


def test_the_schedule_button_schedules_moves_and_cancel_drops_the_slot(bot: Bot) -> None:
    message, request_id = asked_upgrade(bot, "idle")
    view = opened_modal(bot, message, ActionId.SCHEDULE, user=ALICE)
    assert view["callback_id"] == ViewId.SCHEDULE and view["private_metadata"] == request_id
    windows = next(b for b in view["blocks"] if b["block_id"] == BlockId.SCHEDULE_WINDOW)
    first, second = (o["value"] for o in windows["element"]["options"][:2])

    outside = {
        BlockId.SCHEDULE_DATE: {"date": {"type": "datepicker", "selected_date": "2026-12-16"}},
        BlockId.SCHEDULE_TIME: {"time": {"type": "timepicker", "selected_time": "12:00"}},
    }
    code, body = bot.sender.post(view_body(bot, view, user=ALICE, values=outside))
    answer = json.loads(body)
    assert code == 200 and answer["response_action"] == "errors"
    assert "outside idle's maintenance windows" in answer["errors"][BlockId.SCHEDULE_TIME]
    assert bot.request(request_id).schedule is None  # refused in the modal, nothing recorded

    pick = {BlockId.SCHEDULE_WINDOW: {"window": {"selected_option": {"value": first}}}}
    code, body = bot.sender.post(view_body(bot, view, user=ALICE, values=pick))
    assert code == 200 and not body
    wait_for(lambda: bot.request(request_id).schedule is not None)
    request = bot.request(request_id)
    assert request.schedule is not None and request.schedule.slot.start.isoformat() == first
    wait_for(lambda: "Scheduled for" in text_of(message))
    bot.runtime.flow.approve(request_id, user=BOB, fingerprint_seen=None)
    assert bot.request(request_id).state is RequestState.APPROVED

    pick = {BlockId.SCHEDULE_WINDOW: {"window": {"selected_option": {"value": second}}}}
    code, _ = bot.sender.post(
        view_body(
            bot, opened_modal(bot, message, ActionId.SCHEDULE, user=ALICE), user=ALICE, values=pick
        )
    )
    assert code == 200
    wait_for(lambda: events_of(bot.runtime, request_id, EventKind.REQUEST_RESCHEDULED))
    moved = bot.request(request_id)
    assert moved.schedule is not None and moved.schedule.slot.start.isoformat() == second
    assert moved.state is RequestState.AWAITING_APPROVAL  # approved for the old time only
    rescheduled = events_of(bot.runtime, request_id, EventKind.REQUEST_RESCHEDULED)[0]
    assert rescheduled.data["approvals_voided"] == [BOB] and rescheduled.actor == ALICE
    wait_for(lambda: "moved from" in thread_text(bot, message))
    assert job_times(bot.runtime, request_id)["start"].isoformat() == second

    _, answer = command(bot, "status idle")
    assert "Next window" in answer and f"{request_id}* upgrade" in answer

    _, answer = command(bot, f"cancel {request_id}")
    assert "is cancelled" in answer
    assert events_of(bot.runtime, request_id, EventKind.REQUEST_CANCELLED)
    assert job_times(bot.runtime, request_id) == {}


# --- restarts, misses and the window's end --------------------------------------


def own_runtime(bot: Bot, state: Path) -> BotRuntime:
    """A bot process on a state file of its own, on the test's clock."""
    return bot.runtime_beside(state, clock=bot.clock)


def scheduled_and_approved(runtime: BotRuntime, target: str, key: str) -> Request:
    request = runtime.scheduling.schedule_command(Asker(ALICE, DEV, key), Schedule(target))
    assert "it runs at" in runtime.flow.approve(request.id, user=BOB, fingerprint_seen=None)
    assert runtime.notifier.flush(30)
    return runtime.requests.get(request.id)


def test_a_scheduler_stopped_and_started_again_on_its_store_still_runs_the_job(
    bot: Bot, tmp_path: Path
) -> None:
    state = tmp_path / "restart.sqlite3"
    first = own_runtime(bot, state)
    try:
        request = scheduled_and_approved(first, "again", "restart-1")
    finally:
        first.shutdown()
    assert request.schedule is not None
    start = request.schedule.slot.start
    with sqlite3.connect(state) as db:  # the job waits in the state file, not in memory
        stored = {row[0] for row in db.execute(f"SELECT id FROM {JOB_TABLE}")}
    assert f"{request.id}:start" in stored
    second = own_runtime(bot, state)
    try:
        assert job_times(second, request.id)["start"] == start
        jump(bot, start, second)
        assert finished(bot, request.id, second).state is RequestState.SUCCEEDED
        started = events_of(second, request.id, EventKind.RUN_STARTED)[0]
        assert timedelta(0) <= fake_ts(started) - start < timedelta(seconds=30)
    finally:
        second.shutdown()
    assert status(bot.open(bot.config.target("again"))).at_head


def test_a_window_missed_while_the_bot_was_down_is_reported_and_not_run(
    bot: Bot, tmp_path: Path
) -> None:
    state = tmp_path / "missed.sqlite3"
    first = own_runtime(bot, state)
    try:
        request = scheduled_and_approved(first, "idle", "missed-1")
    finally:
        first.shutdown()
    assert request.schedule is not None
    bot.clock.jump_to(request.schedule.slot.start + timedelta(minutes=10))  # still in the window
    second = own_runtime(bot, state)
    try:
        missed = finished(bot, request.id, second)
        assert missed.state is RequestState.EXPIRED and missed.run is None
        recorded = events_of(second, request.id, EventKind.SCHEDULE_MISSED)
        assert len(recorded) == 1 and "not run late" in recorded[0].data["reason"]
        assert events_of(second, request.id, EventKind.RUN_STARTED) == []
        wait_for(lambda: [t for t in texts(bot, STAKE, request.id) if "while the bot was not" in t])
        wait_for(lambda: [t for t in dms(bot, ALICE, request.id) if "did not run" in t])
    finally:
        second.shutdown()
    assert not status(bot.open(bot.config.target("idle"))).at_head


def test_a_run_that_would_overrun_its_window_is_aborted_at_the_window_end(bot: Bot) -> None:
    message, request = scheduled(bot, "schedule brief next-window")
    assert request.schedule is not None
    slot = request.schedule.slot
    assert slot.end is not None and slot.end - slot.start == timedelta(minutes=1)
    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    wait_for(lambda: bot.request(request.id).state is RequestState.APPROVED)
    jump(bot, slot.start + timedelta(seconds=45))  # a little late, within the grace: 15 s left
    aborted = finished(bot, request.id)
    assert aborted.state is RequestState.ABORTED
    assert aborted.closure is not None
    reason = aborted.closure.reason
    assert "the maintenance window ended" in reason and f"during apply {SLOW.id}" in reason
    assert slot.end - timedelta(seconds=5) <= aborted.closure.at < slot.end + timedelta(seconds=30)
    applied = aborted.closure.details["applied"]
    assert SLOW.id not in applied  # the sleeping revision was stopped and rolled back
    handle = bot.open(bot.config.target("brief"))
    assert status(handle).current != (SLOW.id,)
    wait_for(lambda: [t for t in texts(bot, STAKE, request.id) if "aborted" in t])


def test_a_failing_before_run_hook_stops_an_on_demand_run_before_anything_changes(
    bot: Bot,
) -> None:
    message, request_id = asked_upgrade(bot, "hooked")
    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    failed = finished(bot, request_id)
    assert failed.state is RequestState.FAILED
    assert failed.closure is not None and failed.closure.details["failed_step"] == "before_run"
    assert "exited 3" in failed.closure.reason and "nothing was changed" in failed.closure.reason
    assert bot.runtime.store.events(request_id=request_id, kinds=[EventKind.BACKUP_STARTED]) == []
    assert status(bot.open(bot.config.target("hooked"))).current == ()
    hooks = [e.data for e in events_of(bot.runtime, request_id, EventKind.HOOK_RAN)]
    assert [(h["phase"], h["ok"]) for h in hooks] == [("before_run", False), ("after_run", True)]
    assert hooks[1]["output"] == "deploys resumed after failed"
    thread = wait_for(lambda: "deploys resumed" in (t := thread_text(bot, message)) and t)
    assert "deploy API said no" in thread and "exited 3" in thread
