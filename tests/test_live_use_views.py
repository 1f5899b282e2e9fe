"""The live-use evidence and the watch in Block Kit: drawn from requests the real request
service folded, with hostile and oversized texts, always inside Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.views import limits
from bot.views.ids import ActionId, BlockId, tag_of
from bot.views.live_use import ACK_VALUE, live_use_modal
from bot.views.watch import watch_alert, watch_summary
from commands.pipeline.watch_failures import Failures
from commands.pipeline.watch_report import (
    WINDOW,
    Before,
    Health,
    NewScans,
    SlowStatement,
    WatchReport,
)
from commands.postgres.database_activity import DatabaseActivity
from commands.requests import Request, RequestService
from commands.state.vocabulary import ChecklistItem
from tests.support.request_cards import controls, drawn
from tests.support.request_helpers import (
    APPROVER,
    REQUESTER,
    Clock,
    fingerprint,
    make_service,
    new_request,
    write_config,
)

HOSTILE = "<!channel> & <@U1|x> ```; DROP TABLE x; `$(reboot)` *bold*"
LONG_SQL = "SELECT " + ", ".join(f"youtube_id AS c{n}" for n in range(400)) + " FROM videos"


def live_use_check(findings: int, statements: int) -> dict:
    found = [
        {
            "level": "warn",
            "key": f"column_dropped:aaa1:videos.c{n}",
            "revision": "aaa1",
            "statement_number": 1,
            "subject": f"videos.c{n}",
            "sentence": f"`videos.c{n}` is dropped by `aaa1`, but {HOSTILE}",
            "calls": 1204,
            "statement_count": statements + 3,
            "statements": [
                {
                    "queryid": str(s),
                    "text": f"{LONG_SQL} {HOSTILE}",
                    "short": f"SELECT youtube_id {HOSTILE}"[:90],
                    "uses": "reads",
                    "calls": 1000 + s,
                    "window_calls": s,
                    "mean_ms": 0.25,
                    "roles": ["app"],
                }
                for s in range(statements)
            ],
        }
        for n in range(findings)
    ]
    return {
        "name": "live_use",
        "verdict": "warn",
        "summary": f"the application still uses … {HOSTILE}",
        "details": [],
        "data": {"available": True, "findings": found, "notes": [HOSTILE]},
    }


@pytest.fixture
def service(tmp_path: Path) -> RequestService:
    return make_service(write_config(tmp_path, 'approvers = ["U0BOB"]\n'), Clock())


def asked(service: RequestService, findings: int = 1, statements: int = 2) -> Request:
    request = new_request(service, fingerprint=fingerprint(revisions=("aaa1",)))
    return service.record_preflight(
        request.id,
        actor="migrate-bot",
        passed=True,
        summary="passed with warnings",
        checks=[live_use_check(findings, statements)],
    )


@pytest.mark.parametrize(("findings", "statements"), [(1, 2), (8, 5)])
def test_the_evidence_the_checkbox_and_the_modal_fit_slack(
    service: RequestService, findings: int, statements: int
) -> None:
    request = asked(service, findings, statements)
    blocks = drawn(service, request)
    found = controls(blocks)
    ack, block_id = found[ActionId.LIVE_USE_ACK]
    assert tag_of(block_id, BlockId.LIVE_USE) == request.id
    assert [o["value"] for o in ack["options"]] == [ACK_VALUE] and "initial_options" not in ack
    assert found[ActionId.VIEW_LIVE_USE][0]["value"] == request.id
    checklist, _ = found[ActionId.CHECKLIST]
    described = {o["value"]: o.get("description", {}).get("text") for o in checklist["options"]}
    assert described[ChecklistItem.APP_COMPATIBLE].startswith("⚠️ still used: `videos.c0`")
    assert len(described[ChecklistItem.APP_COMPATIBLE]) <= limits.OPTION_TEXT
    modal = live_use_modal(request)
    assert limits.modal_problems(modal) == []
    assert "<!channel>" not in json.dumps(modal)


def test_the_checkbox_shows_who_acknowledged_and_goes_once_the_request_is_approved(
    service: RequestService,
) -> None:
    request = asked(service)
    for item in ChecklistItem:
        request = service.tick_checklist(request.id, item=item, actor=REQUESTER)
    request = service.acknowledge_live_use(request.id, actor=APPROVER)
    blocks = drawn(service, request)
    ack, _ = controls(blocks)[ActionId.LIVE_USE_ACK]
    assert [o["value"] for o in ack["initial_options"]] == [ACK_VALUE]
    assert f"acknowledged by <@{APPROVER}>" in json.dumps(blocks)
    approved = service.approve(request.id, approver=APPROVER).request
    blocks = drawn(service, approved)
    assert ActionId.LIVE_USE_ACK not in controls(blocks)
    assert any(b.get("block_id") == BlockId.LIVE_USE for b in blocks)


def test_without_pg_stat_statements_the_checklist_says_there_is_no_evidence(
    service: RequestService,
) -> None:
    request = new_request(service, fingerprint=fingerprint(revisions=("aaa1",)))
    missing = {
        "name": "live_use",
        "verdict": "skip",
        "summary": "pg_stat_statements is not loaded on this server: no evidence either way",
        "data": {"available": False},
    }
    request = service.record_preflight(
        request.id, actor="migrate-bot", passed=True, summary="ok", checks=[missing]
    )
    found = controls(drawn(service, request))
    assert ActionId.LIVE_USE_ACK not in found and ActionId.VIEW_LIVE_USE not in found
    checklist, _ = found[ActionId.CHECKLIST]
    [description] = [o["description"]["text"] for o in checklist["options"] if "description" in o]
    assert description == "❔ no evidence: pg_stat_statements is not available"


def test_the_watchs_summary_and_alert_fit_slack_with_hostile_statements() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    report = WatchReport(
        request_id="M-3",
        target="prod",
        start=start,
        end=start + timedelta(minutes=10),
        planned_s=600,
        before=Before(WINDOW, start - timedelta(hours=2), start - timedelta(minutes=1), {}, {}),
        compared=40,
        slowed=tuple(
            SlowStatement(str(n), f"{LONG_SQL} {HOSTILE}", 1204, 0.04, 598, 2.31) for n in range(10)
        ),
        scans=(NewScans("public.segments", 12_400_000, 0, 412),),
        health=Health("https://app/health", 30, 2, HOSTILE, start),
        notes=(HOSTILE,) * 8,
        failures=Failures(DatabaseActivity(9_000, 1_204, 0, 1), 600.0, DatabaseActivity(), 7200.0),
        signals=("statements (pg_stat_statements)", HOSTILE),
    )
    for text, blocks in (watch_summary(report), watch_alert(report)):
        assert limits.problems(blocks) == [] and "<!channel>" not in json.dumps(blocks)
        shown = json.dumps(blocks, ensure_ascii=False)
        assert "mean 0.04 ms → 2.31 ms (57.8 times); 1,204 calls before, 598 after" in shown
        assert "`public.segments` (12.4 M rows): 412 sequential scan(s) after, none before" in shown
        assert "Health URL: 30 check(s), 2 failed" in shown and "M-3" in text
        assert "application errors: 1,204 transaction(s) rolled back (none before the run)" in (
            text
        )
        assert "1 deadlock(s)" in text and "Failures: 1,204 transaction(s) rolled back" in shown
    assert WatchReport.from_json(report.to_json()) == report
