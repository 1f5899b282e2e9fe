"""Scheduling's pure parts: the config keys, slots from windows, the modal's form, the views."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.flows.schedule_form import FormError, ScheduleForm, read_form, slot_from_form
from bot.views import limits
from bot.views.ids import BlockId
from bot.views.schedule import (
    did_not_run_notice,
    next_window_blocks,
    reminder_notice,
    schedule_line,
    schedule_modal,
    scheduled_notice,
    starting_notice,
)
from commands.config.schedule import Hook
from commands.config.targets_file import BUNDLED_MIGRATIONS, TargetConfig, parse_config
from commands.errors import ConfigError
from commands.migration.script.fingerprint import PlanFingerprint
from commands.requests import Request
from commands.requests.model import Closure, Scheduled
from commands.requests.slots import (
    OutsideWindowsError,
    ScheduleError,
    Slot,
    next_window_slot,
    slot_at,
    upcoming_slots,
)
from commands.state.vocabulary import RequestKind, RequestState

WEDNESDAY_NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TARGET = f"""
[targets.prod]
database_url_env = "PROD_URL"
script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
approvers = ["U0BOB"]
"""


def target(keys: str = "") -> TargetConfig:
    text = TARGET + textwrap.dedent(keys)
    return parse_config(text, source="bot.toml", base=Path("/srv")).target("prod")


def test_schedule_keys_have_safe_defaults_and_typed_values() -> None:
    default = target()
    assert default.windows == () and not default.allow_outside_windows
    assert default.reminders == (86400, 3600)
    assert default.before_run == default.after_run == ()
    assert default.hook_timeout == 30
    prod = target(
        """
        windows = ["Sun 02:00-04:00 Europe/Berlin", "Mon-Fri 03:00-04:00 UTC"]
        allow_outside_windows = true
        reminders = ["1h", "2d", "15min"]
        before_run = [["deployctl", "freeze", "--reason", "migration"],
                      "https://deploys.example.com/hooks/freeze?token=abc"]
        after_run = [["deployctl", "resume"]]
        hook_timeout = "2min"
        """
    )
    assert [w.text for w in prod.windows] == [
        "Sun 02:00-04:00 Europe/Berlin",
        "Mon-Fri 03:00-04:00 UTC",
    ]
    assert prod.reminders == (172800, 3600, 900)  # longest first
    assert prod.before_run[0] == Hook(argv=("deployctl", "freeze", "--reason", "migration"))
    assert prod.before_run[1].display == "https://deploys.example.com/hooks/freeze"  # no query
    assert prod.hook_timeout == 120


@pytest.mark.parametrize(
    ("keys", "key", "problem"),
    [
        ('windows = ["Sun 2am-4am"]', "windows[0]", "DAYS HH:MM-HH:MM ZONE"),
        ('windows = ["Sun 02:00-04:00 Mars/Olympus"]', "windows[0]", "unknown time zone"),
        ('windows = ["Funday 02:00-04:00 UTC"]', "windows[0]", "not a day"),
        ('windows = "Sun 02:00-04:00 UTC"', "windows", "must be a list"),
        ('allow_outside_windows = "yes"', "allow_outside_windows", "must be true or false"),
        ('reminders = ["soon"]', "reminders[0]", "not a duration"),
        ('before_run = ["deployctl freeze && echo ok"]', "before_run[0]", "argument list"),
        ("before_run = [[]]", "before_run[0]", "must not be empty"),
        ('after_run = [["deployctl", 3]]', "after_run[0][1]", "non-empty string"),
        ('before_run = "https://x.example/h"', "before_run", "must be a list"),
        ('hook_timeout = "0s"', "hook_timeout", "longer than zero"),
        ('windws = ["Sun 02:00-04:00 UTC"]', "windws", "did you mean 'windows'"),
    ],
)
def test_bad_schedule_keys_are_named_with_the_right_form(keys: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        target(keys)
    assert caught.value.key == f"targets.prod.{key}"


BERLIN_SUNDAYS = target('windows = ["Sun 02:00-04:00 Europe/Berlin"]')


def test_a_time_inside_a_window_is_bound_to_the_window_end() -> None:
    slot = slot_at(BERLIN_SUNDAYS, datetime(2026, 12, 6, 2, 30), None, now=WEDNESDAY_NOON)
    assert slot.start == datetime(2026, 12, 6, 1, 30, tzinfo=UTC)  # read in the window's zone
    assert slot.end == datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert slot.window == "Sun 02:00-04:00 Europe/Berlin" and slot.zone == "Europe/Berlin"
    assert slot.describe() == "Sun 6 Dec 2026 02:30-04:00 Europe/Berlin"
    assert Slot.from_json(slot.to_json()) == slot
    in_utc = slot_at(BERLIN_SUNDAYS, datetime(2026, 12, 6, 1, 30), "UTC", now=WEDNESDAY_NOON)
    assert in_utc.start == slot.start and in_utc.end == slot.end


def test_times_outside_every_window_are_refused_unless_allowed() -> None:
    with pytest.raises(OutsideWindowsError, match="outside prod's maintenance windows") as caught:
        slot_at(BERLIN_SUNDAYS, datetime(2026, 12, 9, 12, 0), None, now=WEDNESDAY_NOON)
    assert "Sun 6 Dec 2026 02:00-04:00 Europe/Berlin" in str(caught.value)  # the next ones
    allowed = replace(BERLIN_SUNDAYS, allow_outside_windows=True)
    slot = slot_at(allowed, datetime(2026, 12, 9, 12, 0), None, now=WEDNESDAY_NOON)
    assert slot.end is None and slot.window is None
    with pytest.raises(OutsideWindowsError, match="has no maintenance windows"):
        slot_at(target(), datetime(2026, 12, 9, 12, 0), "UTC", now=WEDNESDAY_NOON)


def test_past_and_nonexistent_times_are_refused() -> None:
    with pytest.raises(ScheduleError, match="in the past"):
        slot_at(BERLIN_SUNDAYS, datetime(2026, 11, 29, 2, 30), None, now=WEDNESDAY_NOON)
    spring = target('windows = ["Sun 01:00-05:00 Europe/Berlin"]')
    with pytest.raises(ScheduleError, match="does not exist"):  # clocks jump 02:00 → 03:00
        slot_at(spring, datetime(2027, 3, 28, 2, 30), None, now=WEDNESDAY_NOON)


def test_next_window_is_the_next_opening_not_the_one_already_open() -> None:
    inside = datetime(2026, 12, 6, 1, 30, tzinfo=UTC)  # Sunday 02:30 in Berlin
    slot = next_window_slot(BERLIN_SUNDAYS, now=inside)
    assert slot.start == datetime(2026, 12, 13, 1, 0, tzinfo=UTC)
    assert [s.start.day for s in upcoming_slots(BERLIN_SUNDAYS, now=inside, count=3)] == [
        13,
        20,
        27,
    ]
    with pytest.raises(OutsideWindowsError, match="no maintenance windows"):
        next_window_slot(target(), now=inside)


def test_the_modal_form_becomes_a_slot_or_an_error_under_its_input() -> None:
    now = WEDNESDAY_NOON
    window = next_window_slot(BERLIN_SUNDAYS, now=now)
    picked = slot_from_form(
        ScheduleForm(window.start.isoformat(), None, None), BERLIN_SUNDAYS, now=now
    )
    assert picked == window
    typed = slot_from_form(ScheduleForm(None, "2026-12-06", "03:00"), BERLIN_SUNDAYS, now=now)
    assert typed.start == datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    cases = [
        (ScheduleForm(None, None, None), BlockId.SCHEDULE_WINDOW, "Pick a window"),
        (ScheduleForm(None, "2026-12-06", None), BlockId.SCHEDULE_TIME, "Pick a time"),
        (ScheduleForm(None, None, "03:00"), BlockId.SCHEDULE_DATE, "Pick a date"),
        (ScheduleForm(None, "2026-12-09", "12:00"), BlockId.SCHEDULE_TIME, "outside"),
        (ScheduleForm("2026-12-06T01:00:00", None, None), BlockId.SCHEDULE_WINDOW, "not one of"),
        (ScheduleForm("yesterday", None, None), BlockId.SCHEDULE_WINDOW, "not one of"),
    ]
    for form, block, problem in cases:
        with pytest.raises(FormError, match=problem) as caught:
            slot_from_form(form, BERLIN_SUNDAYS, now=now)
        assert set(caught.value.errors) == {block} and len(caught.value.message) <= 300
    view = {
        "state": {
            "values": {
                BlockId.SCHEDULE_WINDOW: {"window": {"selected_option": {"value": "x"}}},
                BlockId.SCHEDULE_DATE: {"date": {"selected_date": "2026-12-06"}},
                BlockId.SCHEDULE_TIME: {"time": {"selected_time": None}},
            }
        }
    }
    assert read_form(view) == ScheduleForm("x", "2026-12-06", None)


def scheduled_request(state: RequestState, slot: Slot) -> Request:
    fingerprint = PlanFingerprint(
        target="prod", action="upgrade", from_revisions=(), to_revisions=("b" * 12,), revisions=()
    )
    request = Request(
        id="M-7",
        kind=RequestKind.UPGRADE,
        target="prod",
        goal="head",
        requester="U0ALICE",
        created_at=WEDNESDAY_NOON,
        origin={"channel": "C0DEV"},
        reason="",
        fingerprint=fingerprint,
        state=state,
        schedule=Scheduled(slot, "U0ALICE", WEDNESDAY_NOON),
    )
    if state.is_final:
        closure = Closure(state, "migrate-bot", WEDNESDAY_NOON, "it was not approved in time")
        request = replace(request, closure=closure)
    return request


def test_scheduling_views_keep_to_block_kit_limits_and_say_when() -> None:
    slot = next_window_slot(BERLIN_SUNDAYS, now=WEDNESDAY_NOON)
    waiting = scheduled_request(RequestState.AWAITING_APPROVAL, slot)
    modal = schedule_modal(waiting, BERLIN_SUNDAYS, now=WEDNESDAY_NOON)
    assert limits.modal_problems(modal) == []
    assert modal["private_metadata"] == "M-7"
    select = next(b for b in modal["blocks"] if b.get("block_id") == BlockId.SCHEDULE_WINDOW)
    options = select["element"]["options"]
    assert len(options) == 5 and options[0]["value"] == slot.start.isoformat()
    assert "needs its approval before then" in (schedule_line(waiting) or "")
    messages = [
        scheduled_notice(waiting),
        scheduled_notice(waiting, previous=replace(slot, start=slot.start - timedelta(days=7))),
        reminder_notice(waiting, timedelta(hours=1), ("1 more approval",)),
        starting_notice(scheduled_request(RequestState.APPROVED, slot)),
        did_not_run_notice(scheduled_request(RequestState.EXPIRED, slot)),
    ]
    for text, blocks in messages:
        assert text and "*" not in text and limits.problems(blocks) == []
    assert "Sun 6 Dec 2026 02:00-04:00 Europe/Berlin" in messages[0][1][0]["text"]["text"]
    assert "moved from" in messages[1][1][0]["text"]["text"]
    assert "Not approved yet" in messages[2][1][0]["text"]["text"]
    assert "stopped at 04:00" in messages[3][1][0]["text"]["text"]
    assert "not approved in time" in messages[4][1][0]["text"]["text"]
    status = next_window_blocks(BERLIN_SUNDAYS, now=WEDNESDAY_NOON, scheduled=[waiting])
    assert limits.problems(status) == []
    assert "Next window" in status[0]["text"]["text"] and "M-7" in status[0]["text"]["text"]
