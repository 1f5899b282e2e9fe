"""A request's life on a real SQLite file: ids, states, the fold, refusals that change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.config.targets_file import Config
from commands.errors import UnknownTargetError
from commands.migration.script.fingerprint import (
    PlanFingerprint,
    describe_changes,
    fingerprint_restore,
)
from commands.requests import (
    AlreadyDoneError,
    NotAnApproverError,
    NothingToDoError,
    PreflightFailedError,
    RequestInputError,
    RequestNotFoundError,
    RequestService,
    SelfApprovalError,
    TargetBusyError,
    WrongStateError,
)
from commands.state.vocabulary import EventKind, RequestKind, RequestState, StepStatus
from tests.support.request_helpers import (
    APPROVER,
    REQUESTER,
    Clock,
    fingerprint,
    make_service,
    new_request,
    ready_for_approval,
    write_config,
)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return write_config(tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(config: Config, clock: Clock) -> RequestService:
    return make_service(config, clock)


def kinds(service: RequestService, request_id: str | None = None) -> list[str]:
    return [e.kind for e in service.store.events(request_id=request_id)]


def test_ids_count_up_and_a_request_is_the_fold_of_its_events(
    service: RequestService, config: Config, clock: Clock
) -> None:
    ids = [new_request(service).id for _ in range(3)]
    assert ids == ["M-1", "M-2", "M-3"]
    assert service.get("m2").id == "M-2" and service.get("M3").id == "M-3"
    service.record_preflight("M-2", actor="migrate-bot", passed=True, summary="ok")

    reopened = make_service(config, clock)  # a restarted bot reads the same state back
    assert reopened.get("M-2") == service.get("M-2")
    assert reopened.get("M-2").state is RequestState.AWAITING_APPROVAL
    assert [r.id for r in reopened.requests(limit=2)] == ["M-3", "M-2"]
    states = [RequestState.REQUESTED]
    assert [r.id for r in reopened.requests(states=states)] == ["M-3", "M-1"]
    tables = reopened.store.events()[0]
    assert tables.request_id == "M-1" and tables.kind == EventKind.REQUEST_CREATED


def test_a_request_goes_from_requested_to_succeeded_recording_who_did_what(
    service: RequestService, clock: Clock
) -> None:
    request = new_request(service, goal="bbb2")
    assert (request.state, request.requester, request.goal) == (
        RequestState.REQUESTED,
        REQUESTER,
        "bbb2",
    )
    assert request.origin == {"channel": "C0OPS", "ts": "1710000000.000100"}
    assert request.to_revisions == ("bbb2",) and request.from_revisions == ()
    request = ready_for_approval(service)
    assert request.state is RequestState.AWAITING_APPROVAL and len(request.checklist) == 5
    clock.advance(minutes=3)
    result = service.approve(request.id, approver=APPROVER)
    approved = result.request
    assert approved.state is RequestState.APPROVED and result.still_needed == ()
    [approval] = approved.approvals
    assert (approval.approver, approval.at) == (APPROVER, clock.now)
    assert approval.fingerprint == request.fingerprint.digest

    running = service.start_run(request.id, actor="migrate-bot", fingerprint_now=fingerprint())
    assert running.state is RequestState.RUNNING
    service.record_step(request.id, actor="migrate-bot", step="backup", status=StepStatus.SUCCEEDED)
    for rev in ("aaa1", "bbb2"):
        service.record_step(
            request.id,
            actor="migrate-bot",
            step="upgrade",
            status=StepStatus.SUCCEEDED,
            revision=rev,
            duration_s=0.25,
        )
    progress = service.get(request.id).run
    assert progress is not None
    assert (progress.current_step, progress.last_revision_applied) == ("upgrade", "bbb2")
    done = service.finish_run(request.id, actor="migrate-bot", outcome=RequestState.SUCCEEDED)
    assert done.state is RequestState.SUCCEEDED and done.closure is not None
    assert kinds(service, request.id)[-1] == EventKind.RUN_FINISHED


def test_a_failing_preflight_blocks_approval_until_a_passing_one(service: RequestService) -> None:
    request = ready_for_approval(service)
    service.record_preflight(
        request.id, actor="migrate-bot", passed=False, summary="replication lag 40 s > 5 s"
    )
    with pytest.raises(WrongStateError, match="failed its pre-flight checks: replication lag"):
        service.approve(request.id, approver=APPROVER)
    service.record_preflight(request.id, actor="migrate-bot", passed=True, summary="lag 0.2 s")
    assert service.approve(request.id, approver=APPROVER).request.state is RequestState.APPROVED

    service.record_preflight(request.id, actor="scheduler", passed=False, summary="disk 97% full")
    with pytest.raises(PreflightFailedError, match="disk 97% full"):
        service.start_run(request.id, actor="scheduler", fingerprint_now=fingerprint())
    refused = service.get(request.id)  # the refusal ends it, with its reason
    assert refused.state is RequestState.REFUSED and refused.closure is not None
    assert "disk 97% full" in refused.closure.reason


def test_an_approval_is_good_for_one_run(service: RequestService) -> None:
    request = ready_for_approval(service)
    service.approve(request.id, approver=APPROVER)
    service.start_run(request.id, actor="migrate-bot", fingerprint_now=fingerprint())
    with pytest.raises(AlreadyDoneError, match="is already running"):
        service.start_run(request.id, actor="migrate-bot", fingerprint_now=fingerprint())
    service.finish_run(
        request.id, actor="migrate-bot", outcome=RequestState.FAILED, reason="lock timeout"
    )
    with pytest.raises(WrongStateError, match=r'failed at .* \("lock timeout"\).*one run'):
        service.start_run(request.id, actor="migrate-bot", fingerprint_now=fingerprint())
    with pytest.raises(WrongStateError, match="cannot be approved"):
        service.approve(request.id, approver="U0CAROL")
    with pytest.raises(AlreadyDoneError, match="already finished"):
        service.finish_run(request.id, actor="migrate-bot", outcome=RequestState.SUCCEEDED)
    assert kinds(service, request.id).count(EventKind.RUN_STARTED) == 1


def test_closed_requests_answer_politely_and_change_nothing(service: RequestService) -> None:
    request = ready_for_approval(service)
    service.cancel(request.id, actor=REQUESTER, reason="wrong target")
    before = kinds(service)
    with pytest.raises(
        WrongStateError, match=r'M-1 cannot be approved: it was cancelled by U0ALICE at .*"wrong'
    ):
        service.approve(request.id, approver=APPROVER)
    with pytest.raises(AlreadyDoneError, match="was cancelled by U0ALICE"):
        service.cancel(request.id, actor=REQUESTER)
    with pytest.raises(WrongStateError, match="cannot be rejected"):
        service.reject(request.id, actor=APPROVER)
    assert kinds(service) == before


def test_reject_is_for_approvers_and_cancel_for_the_requester_or_approvers(
    service: RequestService,
) -> None:
    first, second = ready_for_approval(service), ready_for_approval(service)
    with pytest.raises(SelfApprovalError, match="cannot reject it: cancel it instead"):
        service.reject(first.id, actor=REQUESTER)
    with pytest.raises(NotAnApproverError, match=r"Only prod's approvers .* can cancel someone"):
        service.cancel(first.id, actor="U0MALLORY")
    rejected = service.reject(first.id, actor=APPROVER, reason="needs a CONCURRENTLY index")
    assert rejected.state is RequestState.REJECTED and rejected.closure is not None
    assert rejected.closure.reason == "needs a CONCURRENTLY index"
    assert service.cancel(second.id, actor=APPROVER).state is RequestState.CANCELLED


def test_one_run_at_a_time_per_target(service: RequestService) -> None:
    first, second = ready_for_approval(service), ready_for_approval(service)
    for request in (first, second):
        service.approve(request.id, approver=APPROVER)
    service.start_run(first.id, actor="migrate-bot", fingerprint_now=fingerprint())
    with pytest.raises(TargetBusyError, match="prod is busy: M-1 is running"):
        service.start_run(second.id, actor="migrate-bot", fingerprint_now=fingerprint())
    assert service.get(second.id).state is RequestState.REFUSED  # not left approved
    assert kinds(service, second.id)[-1] == EventKind.RUN_REFUSED
    service.finish_run(first.id, actor="migrate-bot", outcome=RequestState.SUCCEEDED)


def test_the_pipeline_refusing_to_start_ends_an_approved_request(
    service: RequestService,
) -> None:
    request = ready_for_approval(service)
    service.approve(request.id, approver=APPROVER)
    refused = service.refuse_run(request.id, actor="migrate-bot", reason="run lock held by M-9")
    assert refused is not None and refused.state is RequestState.REFUSED
    assert refused.closure is not None and refused.closure.reason == "run lock held by M-9"
    assert service.refuse_run(request.id, actor="migrate-bot", reason="again") is None


def test_break_glass_requests_are_approved_by_the_operator_and_marked(
    service: RequestService,
) -> None:
    request = service.create_break_glass(
        kind=RequestKind.UPGRADE,
        target="prod",
        operator="os:alice",
        fingerprint=fingerprint(),
        reason="Slack is down, hotfix",
    )
    assert request.state is RequestState.APPROVED and request.break_glass
    assert request.approvals[0].approver == "os:alice" and request.approvals[0].break_glass
    assert kinds(service, request.id) == [
        EventKind.REQUEST_CREATED,
        EventKind.BREAK_GLASS_APPROVAL,
    ]
    assert service.store.events()[0].data["break_glass"] is True
    running = service.start_run(request.id, actor="os:alice", fingerprint_now=fingerprint())
    assert running.state is RequestState.RUNNING


def test_runs_left_running_by_a_dead_bot_are_marked_interrupted(
    service: RequestService, config: Config, clock: Clock
) -> None:
    request = ready_for_approval(service)
    service.approve(request.id, approver=APPROVER)
    service.start_run(request.id, actor="migrate-bot", fingerprint_now=fingerprint())
    service.record_step(
        request.id, actor="migrate-bot", step="upgrade", status=StepStatus.SUCCEEDED, revision="a1"
    )
    service.record_step(
        request.id, actor="migrate-bot", step="upgrade", status=StepStatus.STARTED, revision="b2"
    )
    restarted = make_service(config, clock)
    [interrupted] = restarted.mark_interrupted_runs(actor="migrate-bot")
    assert interrupted.state is RequestState.INTERRUPTED
    assert interrupted.closure is not None
    assert interrupted.closure.details == {"step": "upgrade", "last_revision_applied": "a1"}
    assert restarted.mark_interrupted_runs(actor="migrate-bot") == []
    with pytest.raises(AlreadyDoneError, match=r"was interrupted .* during upgrade"):
        restarted.finish_run(request.id, actor="migrate-bot", outcome=RequestState.SUCCEEDED)


def test_bad_input_is_refused_and_records_nothing(service: RequestService) -> None:
    new_request(service)
    before = service.store.head()
    bad = [
        (RequestNotFoundError, lambda: service.get("M-99")),
        (RequestInputError, lambda: service.get("DROP TABLE")),
        (UnknownTargetError, lambda: new_request(service, target="staging")),
        (RequestInputError, lambda: new_request(service, goal="head; rm -rf /")),
        (RequestInputError, lambda: new_request(service, reason="x" * 501)),
        (RequestInputError, lambda: new_request(service, origin={"ts": 1710000000.1})),
        (RequestInputError, lambda: new_request(service, fingerprint=fingerprint("staging"))),
        (NothingToDoError, lambda: new_request(service, fingerprint=fingerprint(revisions=()))),
        (RequestInputError, lambda: new_request(service, kind=RequestKind.DOWNGRADE)),
        (RequestInputError, lambda: new_request(service, requester="")),
        (RequestInputError, lambda: new_request(service, kind="sideways")),
        (RequestInputError, lambda: service.tick_checklist("M-1", item="vibes", actor=APPROVER)),
        (RequestInputError, lambda: service.freeze("prod", actor=APPROVER, reason="  ")),
        (
            RequestInputError,
            lambda: service.finish_run("M-1", actor="x", outcome=RequestState.APPROVED),
        ),
    ]
    for error, call in bad:
        with pytest.raises(error):
            call()
    assert service.store.head() == before


def test_a_retried_command_returns_the_request_it_created(service: RequestService) -> None:
    first = new_request(service, dedupe_key="trigger-123")
    again = new_request(service, dedupe_key="trigger-123")
    other = new_request(service, dedupe_key="trigger-456")
    assert again == first and other.id == "M-2"
    assert kinds(service).count(EventKind.REQUEST_CREATED) == 2


def test_a_restore_names_its_backup_and_binds_to_the_backup_content(
    service: RequestService,
) -> None:
    def restore_plan(sha256: str) -> PlanFingerprint:
        return fingerprint_restore(
            target="prod",
            backup="transcripts-20250314T090000Z.dump",
            backup_sha256=sha256,
            from_revisions=("e2f6a8c0d376",),
            to_revisions=("c9d0b2f4e165",),
        )

    recorded = restore_plan("a" * 64)
    with pytest.raises(RequestInputError, match="a restore needs a backup id"):
        new_request(service, kind=RequestKind.RESTORE, fingerprint=recorded)
    request = new_request(
        service,
        kind=RequestKind.RESTORE,
        goal="transcripts-20250314T090000Z.dump",
        fingerprint=recorded,
    )
    assert request.kind is RequestKind.RESTORE and request.to_revisions == ("c9d0b2f4e165",)
    assert describe_changes(recorded, restore_plan("b" * 64)) == [
        "backup transcripts-20250314T090000Z.dump's content changed"
    ]
