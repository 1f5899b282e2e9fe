"""A revision whose SQL cannot be rendered offline, as every view shows it (pure renderings)."""

from __future__ import annotations

import json

from bot.cli.render import plan_json, plan_text
from bot.views import limits
from bot.views.plan import plan_blocks, sql_file, sql_modal
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction, Revision

REASON = "AttributeError: 'NoneType' object has no attribute 'fetchone'"


def revision(rev: str) -> Revision:
    return Revision(rev, (), (), (), f"revision {rev}", f"/srv/app/versions/{rev}_x.py")


def preview_plan() -> Plan:
    return Plan(
        target="prod",
        direction=Direction.UP,
        current=(),
        destination=("b2",),
        revisions=(revision("a1"), revision("b2")),
        sql={"a1": "CREATE TABLE a (id int);"},
        unavailable={"b2": REASON},
    )


NOTE = f"SQL not available offline: {REASON}; read versions/b2_x.py"


def test_the_plan_names_the_revision_its_reason_and_its_file() -> None:
    plan = preview_plan()
    assert plan.sql_note(plan.revisions[1]) == NOTE
    assert plan.sql_note(plan.revisions[0]) is None
    assert [r.id for r in plan.unrendered] == ["b2"]


def test_slack_plan_modal_and_file_say_so() -> None:
    plan = preview_plan()
    blocks = plan_blocks(plan, sql_ref="M-1")
    text = json.dumps(blocks)
    assert "SQL not available offline for 1 revision(s)" in text and "versions/b2_x.py" in text
    assert limits.problems(blocks) == []
    modal = sql_modal(plan)
    assert modal is not None and "-- SQL not available offline" in json.dumps(modal)
    assert f"-- {NOTE}" in sql_file(plan)
    assert "CREATE TABLE a" in sql_file(plan)


def test_the_terminal_and_json_say_so() -> None:
    plan = preview_plan()
    assert f"      | -- {NOTE}" in plan_text(plan)
    revisions = plan_json(plan)["revisions"]
    assert revisions[1]["sql"] is None and revisions[1]["sql_unavailable"] == NOTE
    assert revisions[0]["sql_unavailable"] is None


def test_the_request_message_lists_what_was_not_linted() -> None:
    from datetime import UTC, datetime

    from bot.views.preflight import preflight_blocks
    from commands.requests.model import Preflight

    plan = preview_plan()
    lint = {
        "name": "lint",
        "verdict": "warn",
        "summary": "no findings in 2 revision(s); 1 revision(s) not linted",
        "data": {
            "findings": [],
            "not_linted": [{"revision": "b2", "note": plan.sql_note(plan.revisions[1])}],
        },
    }
    at = datetime(2026, 1, 1, tzinfo=UTC)
    text = json.dumps(preflight_blocks(Preflight(True, "warn", (lint,), "bot", at)))
    assert "`b2`: not linted: SQL not available offline" in text
    assert "versions/b2_x.py" in text
