"""Every view against Block Kit's limits, small and huge, and the checker itself."""

from __future__ import annotations

import json

import pytest

from bot.views import limits
from bot.views.blocks import lines_in_sections
from bot.views.help import help_blocks
from bot.views.history import history_blocks
from bot.views.ids import ActionId
from bot.views.plan import plan_blocks, sql_expired_modal, sql_file, sql_modal
from bot.views.status import status_blocks
from bot.views.targets import targets_blocks
from commands.config.targets_file import demo_config
from commands.migration.script.plan import HistoryEntry, Plan, Status
from commands.migration.script.revision_graph import Direction, Revision
from commands.slash.grammar import USAGE

HOSTILE = "<!channel> & <@U1|x> ```; DROP TABLE x; `$(reboot)`"


def revision(n: int, message: str = "add a thing") -> Revision:
    return Revision(f"{n:012x}", (f"{n - 1:012x}",) if n else (), (), (), message, f"/v/{n}.py")


def make_plan(count: int, sql_size: int = 200, message: str = "add a thing") -> Plan:
    revisions = tuple(revision(n, message) for n in range(count))
    sql = {r.id: ("ALTER TABLE jobs ADD COLUMN c int; -- & < >\n" * sql_size) for r in revisions}
    return Plan("demo", Direction.UP, (), (revisions[-1].id,) if revisions else (), revisions, sql)


def assert_fits(blocks: list[dict], surface: str = "message") -> None:
    assert limits.problems(blocks, surface=surface) == []


@pytest.mark.parametrize("count", [0, 1, 7, 400])
def test_plan_fits_whatever_its_size(count: int) -> None:
    blocks = plan_blocks(make_plan(count, message=HOSTILE * 3), sql_ref="P-1")
    assert_fits(blocks)
    text = json.dumps(blocks)
    assert "<!channel>" not in text
    assert ("&lt;!channel&gt;" in text) == (count > 0)
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [b["value"] for b in buttons] == (["P-1"] if count else [])
    assert all(b["action_id"] == ActionId.VIEW_SQL for b in buttons)


def test_a_huge_plan_lists_what_fits_and_says_how_many_more() -> None:
    text = json.dumps(plan_blocks(make_plan(400, message="x" * 600)), ensure_ascii=False)
    assert "… and " in text and " more" in text


def test_sql_modal_shows_each_revision_or_gives_way_to_a_file() -> None:
    small = sql_modal(make_plan(3, sql_size=5))
    assert small is not None and limits.modal_problems(small) == []
    assert "ALTER TABLE jobs ADD COLUMN c int; -- &amp; &lt; &gt;" in json.dumps(small)
    assert sql_modal(make_plan(30, sql_size=400)) is None
    whole = sql_file(make_plan(30, sql_size=400))
    assert whole.count("ALTER TABLE") == 30 * 400 and "-- [30/30]" in whole
    assert limits.modal_problems(sql_expired_modal()) == []


def test_one_enormous_sql_line_is_cut_to_fit() -> None:
    plan = make_plan(1)
    plan = Plan(
        plan.target,
        plan.direction,
        (),
        plan.destination,
        plan.revisions,
        {plan.revisions[0].id: "SELECT '" + "&" * 9000 + "';"},
    )
    modal = sql_modal(plan)
    assert modal is not None and limits.modal_problems(modal) == []


def test_status_help_targets_history_fit() -> None:
    pending = tuple(revision(n, HOSTILE) for n in range(300))
    status = Status("demo", "postgresql://u:***@h/db", "17.2", (), ("abc",), pending)
    assert_fits(status_blocks(status))
    at_head = Status("demo", "postgresql://h/db", "17.2", ("abc",), ("abc",), ())
    assert "at head" in json.dumps(status_blocks(at_head))
    assert_fits(help_blocks())
    assert all(form in json.dumps(help_blocks()) for form, _ in USAGE.values())
    assert_fits(targets_blocks(demo_config()))
    entries = [HistoryEntry(revision(n), n < 5, n == 4, n == 999) for n in range(1000)]
    assert_fits(history_blocks("demo", entries))
    assert_fits(history_blocks("demo", []))


def test_the_checker_finds_each_kind_of_breach() -> None:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "b" * 76},
        "action_id": "a",
        "value": "v" * 256,
    }
    blocks = [
        {"type": "header", "text": {"type": "mrkdwn", "text": "h" * 151}, "block_id": "x"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}, "block_id": "x"},
        {
            "type": "actions",
            "elements": [button, {**button, "text": {"type": "plain_text", "text": "ok"}}],
        },
        {"type": "carousel"},
    ] + [{"type": "divider"}] * 47
    found = "\n".join(limits.problems(blocks))
    for expected in (
        "51 blocks",
        "text type 'mrkdwn'",
        "151 characters (limit 150)",
        "3001 characters (limit 3000)",
        "76 characters (limit 75)",
        "button value is 256",
        "block_id 'x' is used more than once",
        "action_id 'a' is used more than once",
        "unknown block type",
    ):
        assert expected in found
    assert limits.problems([{"type": "divider"}] * 100, surface="modal") == []


def test_lines_are_packed_into_few_sections() -> None:
    blocks = lines_in_sections([f"line {n}" for n in range(1000)], max_blocks=3)
    assert len(blocks) <= 3 and "more" in blocks[-1]["text"]["text"]
    assert_fits(blocks)
