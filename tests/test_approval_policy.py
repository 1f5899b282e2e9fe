"""Each approval rule, through the service on a real SQLite file: who may approve, how
many, which groups, for how long, for which plan, and the freeze."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.errors import ConfigError
from commands.requests import (
    AlreadyDoneError,
    ApprovalExpiredError,
    ChecklistIncompleteError,
    NotAnApproverError,
    PlanChangedError,
    RequestRefused,
    RequestService,
    SelfApprovalError,
    TargetFrozenError,
    WrongStateError,
)
from commands.state.vocabulary import ChecklistItem, EventKind, RequestState
from tests.support.request_helpers import (
    APPROVER,
    REQUESTER,
    SECOND_APPROVER,
    Clock,
    fingerprint,
    make_service,
    new_request,
    ready_for_approval,
    write_config,
)

GROUPS = {
    "@db-admins": frozenset({"U0DBA", "U0BOTH"}),
    "@app-owners": frozenset({"U0OWNER", "U0BOTH"}),
}


def lookup(group: str) -> frozenset[str]:
    """Stands in for Slack's usergroups.users.list: a real function over a real table."""
    return GROUPS.get(group, frozenset())


def service_with(tmp_path: Path, keys: str, clock: Clock | None = None) -> RequestService:
    return make_service(write_config(tmp_path, keys), clock or Clock(), lookup)


def refused(service: RequestService, request_id: str) -> list[str]:
    kinds = [EventKind.ACTION_REFUSED, EventKind.RUN_REFUSED]
    return [e.data["reason"] for e in service.store.events(request_id=request_id, kinds=kinds)]


def test_the_requester_never_approves_even_when_listed(tmp_path: Path) -> None:
    service = service_with(tmp_path, f'approvers = ["{REQUESTER}", "{APPROVER}"]')
    request = ready_for_approval(service)
    with pytest.raises(SelfApprovalError, match="You asked for M-1, so you cannot approve it"):
        service.approve(request.id, approver=REQUESTER)
    assert service.get(request.id).state is RequestState.AWAITING_APPROVAL
    assert refused(service, request.id) == [
        "You asked for M-1, so you cannot approve it: a second person must."
    ]


def test_only_listed_approvers_count(tmp_path: Path) -> None:
    service = service_with(tmp_path, f'approvers = ["{APPROVER}", "@db-admins"]')
    request = ready_for_approval(service)
    with pytest.raises(NotAnApproverError, match=r"approvers \(U0BOB, @db-admins\).*U0MALLORY"):
        service.approve(request.id, approver="U0MALLORY")
    with pytest.raises(NotAnApproverError):
        service.approve(request.id, approver="U0OWNER")  # in a group, but not a listed one
    assert service.get(request.id).approvals == ()
    assert len(refused(service, request.id)) == 2

    result = service.approve(request.id, approver="U0DBA")  # a member of a listed group
    assert result.request.state is RequestState.APPROVED
    assert result.request.approvals[0].groups == ("@db-admins",)


def test_group_members_are_unknown_without_a_lookup(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'approvers = ["@db-admins"]')
    service = make_service(config)  # the CLI: no Slack to ask who is in a group
    request = ready_for_approval(service)
    with pytest.raises(NotAnApproverError):
        service.approve(request.id, approver="U0DBA")


def test_n_distinct_approvals_are_needed_and_a_second_click_counts_once(tmp_path: Path) -> None:
    service = service_with(tmp_path, 'approvals = 2\napprovers = ["U0BOB", "U0CAROL", "U0DAN"]')
    request = ready_for_approval(service)
    first = service.approve(request.id, approver=APPROVER)
    assert first.request.state is RequestState.AWAITING_APPROVAL
    assert first.still_needed == ("1 more approval",)
    with pytest.raises(AlreadyDoneError, match="You already approved M-1 at"):
        service.approve(request.id, approver=APPROVER)
    second = service.approve(request.id, approver=SECOND_APPROVER)
    assert second.request.state is RequestState.APPROVED and second.still_needed == ()
    with pytest.raises(AlreadyDoneError, match=r"already approved \(by U0BOB, U0CAROL\)"):
        service.approve(request.id, approver="U0DAN")
    grants = service.store.events(kinds=[EventKind.APPROVAL_GRANTED])
    assert [e.actor for e in grants] == [APPROVER, SECOND_APPROVER]


def test_a_quorum_needs_each_group(tmp_path: Path) -> None:
    keys = """
    approvals = 1
    approvers = ["@db-admins", "@app-owners"]
    quorum = {"@db-admins" = 1, "@app-owners" = 1}
    """
    service = service_with(tmp_path, keys)
    request = ready_for_approval(service)
    first = service.approve(request.id, approver="U0DBA")
    assert first.still_needed == ("1 more from @app-owners",)
    assert first.request.state is RequestState.AWAITING_APPROVAL
    second = service.approve(request.id, approver="U0OWNER")
    assert second.request.state is RequestState.APPROVED

    both = ready_for_approval(service)  # one person in both groups speaks for both
    assert service.approve(both.id, approver="U0BOTH").request.state is RequestState.APPROVED


def test_the_checklist_must_be_complete_before_approval(tmp_path: Path) -> None:
    service = service_with(tmp_path, f'approvers = ["{APPROVER}"]')
    request = new_request(service)
    service.record_preflight(request.id, actor="migrate-bot", passed=True, summary="ok")
    service.tick_checklist(request.id, item=ChecklistItem.CODE_REVIEWED, actor=APPROVER)
    with pytest.raises(ChecklistIncompleteError, match="Applied and tested in staging"):
        service.approve(request.id, approver=APPROVER)
    with pytest.raises(AlreadyDoneError, match="U0BOB already confirmed"):
        service.tick_checklist(request.id, item=ChecklistItem.CODE_REVIEWED, actor=REQUESTER)

    lighter = service_with(tmp_path / "light", f'approvers = ["{APPROVER}"]\nchecklist = []')
    request = new_request(lighter)
    lighter.record_preflight(request.id, actor="migrate-bot", passed=True, summary="ok")
    assert lighter.approve(request.id, approver=APPROVER).request.state is RequestState.APPROVED


def test_an_approval_expires(tmp_path: Path) -> None:
    clock = Clock()
    keys = 'approvals = 2\napprovers = ["U0BOB", "U0CAROL"]\napproval_ttl = "1h"'
    service = service_with(tmp_path, keys, clock)
    request = ready_for_approval(service)
    service.approve(request.id, approver=APPROVER)
    clock.advance(minutes=61)
    late = service.approve(request.id, approver=SECOND_APPROVER)
    assert late.request.state is RequestState.AWAITING_APPROVAL  # the first one lapsed
    assert late.still_needed == ("1 more approval",)
    renewed = service.approve(request.id, approver=APPROVER)  # a lapsed approval may be renewed
    assert renewed.request.state is RequestState.APPROVED
    with pytest.raises(AlreadyDoneError, match="You already approved M-1 at 2025-03-14 10:01"):
        service.approve(request.id, approver=APPROVER)

    again = ready_for_approval(service)
    service.approve(again.id, approver=APPROVER)
    service.approve(again.id, approver=SECOND_APPROVER)
    clock.advance(minutes=59)
    assert service.tally(service.get(again.id)).complete
    clock.advance(minutes=2)
    with pytest.raises(ApprovalExpiredError, match=r"expired at 2025-03-14 11:01 UTC .*1 h"):
        service.start_run(again.id, actor="migrate-bot", fingerprint_now=fingerprint())
    assert service.get(again.id).state is RequestState.EXPIRED


def test_a_changed_plan_refuses_the_run_and_says_what_changed(tmp_path: Path) -> None:
    service = service_with(tmp_path, f'approvers = ["{APPROVER}", "{SECOND_APPROVER}"]')
    request = ready_for_approval(service)
    service.approve(request.id, approver=APPROVER)
    edited = fingerprint(content="v2")  # both files' bytes differ now
    with pytest.raises(PlanChangedError) as refusal:
        service.start_run(request.id, actor="migrate-bot", fingerprint_now=edited)
    assert refusal.value.changes == (
        "revision aaa1's file changed",
        "revision bbb2's file changed",
    )
    after = service.get(request.id)  # over: the approval was for the old plan
    assert after.state is RequestState.REFUSED and after.closure is not None
    assert "revision aaa1's file changed" in after.closure.reason
    assert after.plan_changes == refusal.value.changes
    with pytest.raises(WrongStateError, match="cannot be approved"):
        service.approve(request.id, approver=SECOND_APPROVER, fingerprint_seen=edited.digest)


def test_a_new_plan_from_preflight_voids_earlier_approvals(tmp_path: Path) -> None:
    service = service_with(tmp_path, f'approvers = ["{APPROVER}"]')
    request = ready_for_approval(service)
    service.approve(request.id, approver=APPROVER)
    grown = fingerprint(revisions=("aaa1", "bbb2", "ccc3"))
    checked = service.record_preflight(
        request.id, actor="scheduler", passed=True, summary="ok", fingerprint=grown
    )
    assert checked.state is RequestState.AWAITING_APPROVAL
    assert "a new revision ccc3 was added to the plan" in checked.plan_changes
    assert "the destination changed from bbb2 to ccc3" in checked.plan_changes
    assert service.approve(request.id, approver=APPROVER).request.state is RequestState.APPROVED


def test_a_frozen_target_runs_nothing_and_only_approvers_freeze(tmp_path: Path) -> None:
    service = service_with(tmp_path, f'approvers = ["{APPROVER}"]')
    request = ready_for_approval(service)
    service.approve(request.id, approver=APPROVER)
    with pytest.raises(NotAnApproverError, match="can freeze it"):
        service.freeze("prod", actor=REQUESTER, reason="nope")
    freeze = service.freeze("prod", actor=APPROVER, reason="incident INC-42")
    assert service.frozen("prod") == freeze
    with pytest.raises(AlreadyDoneError, match="already frozen by U0BOB"):
        service.freeze("prod", actor=APPROVER, reason="again")
    with pytest.raises(TargetFrozenError, match=r'frozen by U0BOB .*\("incident INC-42"\)'):
        service.start_run(request.id, actor="scheduler", fingerprint_now=fingerprint())
    assert service.get(request.id).state is RequestState.REFUSED  # ended, saying why
    assert "frozen" in refused(service, request.id)[0]

    with pytest.raises(NotAnApproverError):
        service.unfreeze("prod", actor=REQUESTER)
    service.unfreeze("prod", actor=APPROVER, reason="resolved")
    with pytest.raises(AlreadyDoneError, match="prod is not frozen"):
        service.unfreeze("prod", actor=APPROVER)
    again = ready_for_approval(service)  # asked again once unfrozen, it runs
    service.approve(again.id, approver=APPROVER)
    started = service.start_run(again.id, actor="scheduler", fingerprint_now=fingerprint())
    assert started.state is RequestState.RUNNING


def test_an_approver_removed_from_the_config_no_longer_counts(tmp_path: Path) -> None:
    before = service_with(tmp_path, f'approvers = ["{APPROVER}", "{SECOND_APPROVER}"]')
    request = ready_for_approval(before)
    before.approve(request.id, approver=APPROVER)
    after = service_with(tmp_path, f'approvers = ["{SECOND_APPROVER}"]')
    with pytest.raises(RequestRefused, match=r"no longer meet prod's policy \(it needs 1 more"):
        after.start_run(request.id, actor="migrate-bot", fingerprint_now=fingerprint())
    assert after.get(request.id).state is RequestState.REFUSED


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            'approvers = ["U0BOB"]\nquorum = {"@db-admins" = 1}',
            "targets.prod.quorum.@db-admins: must also be listed in approvers",
        ),
        (
            'approvers = ["@db-admins"]\nquorum = {"@db-admins" = 0}',
            "targets.prod.quorum.@db-admins: must be a whole number of at least 1",
        ),
        (
            'approvers = ["U0BOB"]\nquorum = {"U0BOB" = 1}',
            "targets.prod.quorum.U0BOB: keys are user groups",
        ),
        (
            'approvals = 3\napprovers = ["U0BOB", "U0CAROL"]',
            "targets.prod.approvals: needs 3 approvers but only 2 are listed",
        ),
        (
            'approvers = ["U0BOB"]\nchecklist = ["code_reviewd"]',
            "targets.prod.checklist[0]: 'code_reviewd' is not valid",
        ),
        (
            'approvers = ["U0BOB"]\napproval_ttl = "soon"',
            "targets.prod.approval_ttl: 'soon' is not a duration",
        ),
    ],
)
def test_policy_keys_are_validated_naming_the_key(tmp_path: Path, keys: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        write_config(tmp_path, keys)
    assert message in str(error.value)
