"""The request message, the live run status and the announcements, drawn from requests
the real request service folded from real events, in every state and at every size."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.views import limits
from bot.views.announcements import interrupted_announcement, outcome_announcement
from bot.views.blocks import escape
from bot.views.ids import ActionId, BlockId, tag_of
from bot.views.request import request_message
from bot.views.request_card import RequestCard
from bot.views.run import progress_bar
from bot.views.run_picture import RunNews, StepState, run_picture
from commands.pipeline import InterruptedRun, RollbackOffer, RunOutcome, RunStep
from commands.pipeline.progress import AppliedRevision
from commands.requests import Request, RequestService
from commands.state.vocabulary import ChecklistItem, RequestState, StepStatus
from tests.support.request_helpers import (
    APPROVER,
    REQUESTER,
    Clock,
    fingerprint,
    make_service,
    new_request,
    write_config,
)

HOSTILE = "<!channel> & <@U1|x> ```; DROP TABLE x; `$(reboot)` *bold* _it_"
KEYS = 'approvers = ["U0BOB", "@dbas"]\n'
OFFERS = (
    RollbackOffer("downgrade", "base", "downgrade prod back to base, where the run started"),
    RollbackOffer("restore", "k7m2xq", "restore backup k7m2xq, taken just before the run"),
)


def checks(revisions: tuple[str, ...], findings: int = 3) -> list[dict]:
    """Check results shaped as the pipeline records them, with hostile text everywhere."""
    lint = [
        {
            "revision": revisions[n % len(revisions)],
            "level": ("fail", "warn", "note")[n % 3],
            "sentence": f"CREATE INDEX without CONCURRENTLY on jobs (40 GB) {HOSTILE}",
            "statement_number": n,
        }
        for n in range(findings)
    ]
    return [
        {"name": "connectivity", "verdict": "pass", "summary": "PostgreSQL 17.2", "details": []},
        {
            "name": "alembic",
            "verdict": "pass",
            "summary": f"{len(revisions)} pending",
            "details": [f"{rev}  {HOSTILE} {rev}" for rev in revisions],
        },
        {"name": "lint", "verdict": "warn", "summary": HOSTILE, "data": {"findings": lint}},
        {"name": "rehearsal", "verdict": "pass", "summary": "rehearsed in 41.2 s"},
        {"name": "replication", "verdict": "skip", "summary": "no replica"},
    ]


@pytest.fixture
def service(tmp_path: Path) -> RequestService:
    return make_service(write_config(tmp_path, KEYS), Clock())


def asked(service: RequestService, revisions: tuple[str, ...] = ("aaa1", "bbb2")) -> Request:
    request = new_request(service, fingerprint=fingerprint(revisions=revisions), reason=HOSTILE)
    return service.record_preflight(
        request.id,
        actor="migrate-bot",
        passed=True,
        summary="passed with warnings",
        checks=checks(revisions, findings=len(revisions)),
    )


def ticked(service: RequestService, request: Request) -> Request:
    for item in ChecklistItem:
        request = service.tick_checklist(request.id, item=item, actor=REQUESTER)
    return request


def running(service: RequestService, request: Request) -> Request:
    service.approve(ticked(service, request).id, approver=APPROVER)
    service.start_run(request.id, actor="migrate-bot", fingerprint_now=request.fingerprint)
    service.record_step(
        request.id, actor="migrate-bot", step="preflight", status=StepStatus.STARTED
    )
    service.record_step(
        request.id, actor="migrate-bot", step="preflight", status=StepStatus.SUCCEEDED
    )
    service.record_step(request.id, actor="migrate-bot", step="backup", status=StepStatus.STARTED)
    service.record_step(
        request.id, actor="migrate-bot", step="backup", status=StepStatus.SUCCEEDED, detail=HOSTILE
    )
    service.record_step(request.id, actor="migrate-bot", step="apply", status=StepStatus.STARTED)
    first, second = request.fingerprint.revision_ids[:2]
    for revision, status in ((first, StepStatus.STARTED), (first, StepStatus.SUCCEEDED)):
        service.record_step(
            request.id, actor="migrate-bot", step="apply", status=status, revision=revision
        )
    return service.record_step(
        request.id,
        actor="migrate-bot",
        step="apply",
        status=StepStatus.STARTED,
        revision=second,
    )


def card(
    service: RequestService, request: Request, news: RunNews | None = None, offers: tuple = ()
) -> RequestCard:
    policy = service.policy(request.target)
    return RequestCard(
        request=request,
        approvers=policy.approvers,
        checklist=policy.checklist,
        missing=service.tally(request).missing,
        approval_ttl_s=policy.ttl_seconds,
        now=service.now(),
        run=run_picture(request, news),
        ways_back=offers,
    )


def drawn(service: RequestService, request: Request, **extra: object) -> list[dict]:
    text, blocks = request_message(card(service, request, **extra))  # type: ignore[arg-type]
    assert text.startswith(request.id)
    assert limits.problems(blocks) == []
    assert "<!channel>" not in json.dumps(blocks)
    return blocks


def controls(blocks: list[dict]) -> dict[str, tuple[dict, str]]:
    return {
        e["action_id"]: (e, b["block_id"])
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    }


def test_a_request_waiting_for_approval_offers_its_decisions_under_the_contract(
    service: RequestService,
) -> None:
    request = asked(service)
    blocks = drawn(service, request)
    found = controls(blocks)
    assert {ActionId.APPROVE, ActionId.REJECT, ActionId.CANCEL, ActionId.CHECKLIST} <= set(found)
    approve, block_id = found[ActionId.APPROVE]
    assert approve["action_id"].startswith("approve") and approve["value"] == request.id
    assert found[ActionId.REJECT][0]["action_id"].startswith("reject")
    assert all(e.get("value") in (None, request.id) for e, _ in found.values())
    assert tag_of(block_id, BlockId.DECIDE) == request.fingerprint.digest
    # Reject asks for a reason in a modal (bot.views.reject); cancelling confirms in red
    assert "confirm" not in found[ActionId.REJECT][0]
    assert found[ActionId.REJECT][0]["style"] == "danger"
    assert found[ActionId.CANCEL][0]["confirm"]["style"] == "danger"
    checklist, checklist_block = found[ActionId.CHECKLIST]
    assert tag_of(checklist_block, BlockId.CHECKLIST) == request.id
    assert [o["value"] for o in checklist["options"]] == [i.value for i in ChecklistItem]
    text = json.dumps(blocks, ensure_ascii=False)
    assert "Awaiting approval" in text and "<@U0BOB>, @dbas" in text
    assert "checklist 0/5" in text and "⚠️" in text and "Rehearsal estimate" in text


def test_ticks_show_as_checked_boxes_and_a_failed_preflight_blocks_approval(
    service: RequestService,
) -> None:
    request = ticked(service, asked(service))
    checklist, _ = controls(drawn(service, request))[ActionId.CHECKLIST]
    assert len(checklist["initial_options"]) == len(ChecklistItem)
    failed = service.record_preflight(
        request.id, actor="migrate-bot", passed=False, summary="lint: fail", checks=checks(("a",))
    )
    text = json.dumps(drawn(service, failed), ensure_ascii=False)
    assert "Pre-flight failed" in text and "approval is blocked" in text


@pytest.mark.parametrize("count", [2, 60, 400])
def test_a_request_of_any_size_fits_a_message(service: RequestService, count: int) -> None:
    revisions = tuple(f"{n:012x}" for n in range(count))
    request = asked(service, revisions)
    drawn(service, request)
    drawn(service, running(service, request), news=RunNews("dumped 3 GB", HOSTILE * 20))


def test_a_running_request_shows_steps_progress_and_the_blocker(service: RequestService) -> None:
    request = running(service, asked(service, ("aaa1", "bbb2", "ccc3", "ddd4")))
    picture = run_picture(request, RunNews(progress=None, blocker="waiting on pid 4242"))
    assert picture is not None
    states = {line.step: line.state for line in picture.steps}
    assert states == {
        RunStep.PREFLIGHT: StepState.DONE,
        RunStep.BACKUP: StepState.DONE,
        RunStep.APPLY: StepState.RUNNING,
        RunStep.VERIFY: StepState.WAITING,
    }
    assert (picture.revisions_done, picture.revisions_total) == (1, 4)
    assert picture.current_revision == "bbb2"
    text = json.dumps(drawn(service, request, news=picture.news), ensure_ascii=False)
    assert "1/4 revisions" in text and "Waiting for a lock" in text and "pid 4242" in text
    assert ActionId.CANCEL in controls(drawn(service, request))
    assert ActionId.APPROVE not in controls(drawn(service, request))


def test_progress_bar() -> None:
    assert progress_bar(0, 4, width=8) == "`░░░░░░░░` 0/4 revisions"
    assert progress_bar(3, 4, width=8) == "`▓▓▓▓▓▓░░` 3/4 revisions"
    assert progress_bar(0, 0, width=4) == "`▓▓▓▓` 0/0 revisions"


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        (RequestState.SUCCEEDED, "Succeeded"),
        (RequestState.FAILED, "*Failed* at apply"),
        (RequestState.ABORTED, "Aborted"),
    ],
)
def test_a_finished_run_shows_its_outcome_and_ways_back(
    service: RequestService, outcome: RequestState, words: str
) -> None:
    request = running(service, asked(service))
    done = service.finish_run(
        request.id,
        actor="migrate-bot",
        outcome=outcome,
        reason="" if outcome is RequestState.SUCCEEDED else HOSTILE,
        details={"failed_step": "apply", "duration_s": 12.5, "database_revisions": ["aaa1"]},
    )
    offers = () if outcome is RequestState.SUCCEEDED else OFFERS
    blocks = drawn(service, done, offers=offers)
    text = json.dumps(blocks, ensure_ascii=False)
    assert words in text
    picture = run_picture(done)
    assert picture is not None and picture.finished
    found = controls(blocks)
    assert ActionId.APPROVE not in found and ActionId.CANCEL not in found
    if offers:
        assert found[ActionId.ROLL_BACK][0]["value"] == done.id
        assert found[ActionId.RESTORE_BACKUP][0]["text"]["text"] == "Restore backup k7m2xq"
        assert next(s for s in picture.steps if s.step is RunStep.APPLY).state is StepState.FAILED


def test_schedule_is_offered_only_where_a_time_can_be_picked(service: RequestService) -> None:
    request = asked(service)
    for can_schedule in (True, False):
        shown = replace(card(service, request), can_schedule=can_schedule)
        _, blocks = request_message(shown)
        assert (ActionId.SCHEDULE in controls(blocks)) is can_schedule


@pytest.mark.parametrize("close", ["reject", "cancel"])
def test_a_closed_request_has_no_buttons_left(service: RequestService, close: str) -> None:
    request = asked(service)
    if close == "reject":
        done = service.reject(request.id, actor=APPROVER, reason=HOSTILE)
    else:
        done = service.cancel(request.id, actor=REQUESTER)
    blocks = drawn(service, done)
    assert controls(blocks) == {}
    assert ("Rejected" if close == "reject" else "Cancelled") in json.dumps(blocks)
    if close == "reject":  # the reason is on the message, escaped
        assert escape(HOSTILE)[:40] in json.dumps(blocks, ensure_ascii=False)


def test_announcements_fit_and_say_who_asked_and_approved(service: RequestService) -> None:
    request = running(service, asked(service))
    done = service.finish_run(request.id, actor="migrate-bot", outcome=RequestState.FAILED)
    outcome = RunOutcome(
        request_id=done.id,
        target=done.target,
        kind="upgrade",
        state=RequestState.FAILED,
        failed_step=RunStep.APPLY,
        error=HOSTILE * 100,
        started_at=service.now(),
        finished_at=service.now(),
        from_revisions=(),
        planned_revisions=("aaa1", "bbb2"),
        database_revisions=("aaa1",),
        applied=(AppliedRevision("aaa1", HOSTILE, 1.5),),
        backup={"id": "k7m2xq", "uri": "file:///b/prod.dump", "size": 2048, "sha256": "ab"},
    )
    text, blocks = outcome_announcement(outcome, done, OFFERS)
    assert limits.problems(blocks) == [] and "failed" in text
    shown = json.dumps(blocks)
    assert f"<@{REQUESTER}>" in shown and f"<@{APPROVER}>" in shown and "k7m2xq" in shown
    run = InterruptedRun(
        request=done, step="apply", last_revision_applied="aaa1", database_revisions=("aaa1",)
    )
    text, blocks = interrupted_announcement(run, OFFERS)
    assert limits.problems(blocks) == [] and "interrupted" in text
