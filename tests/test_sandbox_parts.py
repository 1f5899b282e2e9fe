"""The sandbox's pure parts: Slack payloads from what the page says, people, its config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import payloads
from bot.sandbox.people import People, Person, PersonSpecError, default_people
from bot.sandbox.sandbox import sandbox_config
from commands.config.targets_file import DEMO_TARGET, demo_config

OPTIONS = [
    {"text": {"type": "plain_text", "text": "Reviewed"}, "value": "reviewed"},
    {"text": {"type": "plain_text", "text": "Staging"}, "value": "staging"},
]
BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "M-1"}},
    {
        "type": "actions",
        "block_id": "checklist",
        "elements": [
            {
                "type": "checkboxes",
                "action_id": "tick",
                "options": OPTIONS,
                "initial_options": [OPTIONS[0]],
            },
            {"type": "button", "action_id": "approve", "value": "M-1", "style": "primary"},
        ],
    },
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "when?"},
        "accessory": {"type": "datepicker", "action_id": "day", "initial_date": "2026-01-02"},
    },
    {
        "type": "actions",  # no block_id: Slack gives it one
        "elements": [
            {"type": "static_select", "action_id": "pick", "options": OPTIONS},
            {"type": "button", "action_id": "approve", "value": "M-2"},
        ],
    },
]


def test_state_holds_every_input_with_its_initial_or_changed_value() -> None:
    untouched = payloads.state_values(BLOCKS, {})
    assert untouched == {
        "checklist": {"tick": {"type": "checkboxes", "selected_options": [OPTIONS[0]]}},
        "sandbox-block-2": {"day": {"type": "datepicker", "selected_date": "2026-01-02"}},
        "sandbox-block-3": {"pick": {"type": "static_select", "selected_option": None}},
    }
    changed = payloads.state_values(
        BLOCKS, {"1": {"tick": ["staging", "made-up"]}, "3": {"pick": "reviewed"}}
    )
    assert changed["checklist"]["tick"]["selected_options"] == [OPTIONS[1]]
    assert changed["sandbox-block-3"]["pick"]["selected_option"] == OPTIONS[0]


def test_an_element_is_found_where_the_page_saw_it_or_wherever_it_moved() -> None:
    assert payloads.find_element(BLOCKS, 3, "approve").element["value"] == "M-2"
    assert payloads.find_element(BLOCKS, 1, "approve").element["value"] == "M-1"
    assert payloads.find_element(BLOCKS, 0, "day").block_id == "sandbox-block-2"
    with pytest.raises(payloads.ElementNotFoundError, match="changed"):
        payloads.find_element(BLOCKS, 1, "reject")


def test_an_action_carries_what_slack_sends_for_its_element() -> None:
    button = payloads.action_of(payloads.find_element(BLOCKS, 1, "approve"), None, action_ts="1.5")
    assert button == {
        "type": "button",
        "action_id": "approve",
        "block_id": "checklist",
        "action_ts": "1.5",
        "value": "M-1",
        "style": "primary",
    }
    tick = payloads.action_of(payloads.find_element(BLOCKS, 1, "tick"), [], action_ts="2.0")
    assert tick["selected_options"] == [] and "value" not in tick


def test_payloads_have_slacks_shape() -> None:
    person = default_people().requester
    form = payloads.slash_command_form(
        text="plan demo",
        person=person,
        channel=("C0OPS", "ops"),
        team_id="T0",
        trigger_id="1.a",
        response_url="http://x/response/1",
    )
    assert form["command"] == "/migrate" and form["user_id"] == person.id
    assert form["channel_name"] == "ops" and form["trigger_id"] == "1.a"
    in_view = payloads.block_actions_payload(
        person=person,
        team_id="T0",
        container={"type": "view", "view_id": "V1"},
        actions=[],
        values={"b": {}},
        trigger_id="2.b",
        view={"id": "V1", "type": "modal"},
    )
    assert in_view["view"]["state"] == {"values": {"b": {}}} and "state" not in in_view
    assert "response_url" not in in_view and "channel" not in in_view
    submitted = payloads.view_submission_payload(
        person=person,
        team_id="T0",
        view={"id": "V1", "callback_id": "cb"},
        values={},
        trigger_id="t",
    )
    assert submitted["view"]["callback_id"] == "cb" and submitted["type"] == "view_submission"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("U0ALICE", Person("U0ALICE", "u0alice", "requester")),
        (" U0A : Ann Lee ", Person("U0A", "Ann Lee", "requester")),
    ],
)
def test_a_person_is_a_user_id_and_a_name(spec: str, expected: Person) -> None:
    assert Person.parse(spec, role="requester") == expected


@pytest.mark.parametrize("spec", ["alice", "u0alice", "C0OPS", "U0A:" + "x" * 41, ""])
def test_a_bad_person_is_refused_naming_the_option(spec: str) -> None:
    with pytest.raises(PersonSpecError, match="--approver"):
        Person.parse(spec, role="approver")


def test_the_two_people_must_be_two() -> None:
    same = Person.parse("U0SAME", role="requester")
    with pytest.raises(PersonSpecError, match="two people"):
        People(requester=same, approver=Person.parse("U0SAME", role="approver"))


def test_the_sandbox_makes_its_approver_and_only_them_an_approver(tmp_path: Path) -> None:
    people = People(
        requester=Person.parse("U0DEMOAPPR:Was-an-approver", role="requester"),
        approver=Person.parse("U0NEW:New", role="approver"),
    )
    config = sandbox_config(demo_config(tmp_path), people)
    assert config.target(DEMO_TARGET).approvers == ("U0NEW",)
    shipped = sandbox_config(demo_config(tmp_path), default_people())
    assert shipped.target(DEMO_TARGET).approvers == demo_config(tmp_path).target("demo").approvers
