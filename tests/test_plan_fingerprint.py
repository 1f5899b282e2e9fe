"""The plan fingerprint of a real Alembic project on a real PostgreSQL: stable when
nothing moves, and a run refused, in words, when a file, the plan or the database moved."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.config.targets_file import Config, parse_config
from commands.migration.planning import plan
from commands.migration.script.fingerprint import describe_changes, fingerprint_plan
from commands.postgres.database_url import DatabaseUrl
from commands.requests import PlanChangedError, RequestService
from commands.requests.errors import WrongStateError
from commands.state.vocabulary import EventKind, RequestKind, RequestState
from commands.targets import TargetHandle, open_target
from tests.support.alembic_projects import table, write_project, write_revision
from tests.support.applying import run_plan
from tests.support.request_helpers import APPROVER, REQUESTER, make_service


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "app", [table("t1"), table("t2", down=("t1",))])


@pytest.fixture
def config(tmp_path: Path, project: Path) -> Config:
    text = f"""
[bot]
state_path = "state.sqlite3"

[targets.app]
database_url_env = "APP_DATABASE_URL"
script_location = "{project.as_posix()}"
approvers = ["{APPROVER}"]
checklist = []
"""
    return parse_config(text, source="test.toml", base=tmp_path)


@pytest.fixture
def handle(config: Config, fresh_db: DatabaseUrl) -> TargetHandle:
    url = fresh_db.text()
    return open_target(config.target("app"), {"APP_DATABASE_URL": url})


def approved(config: Config, handle: TargetHandle) -> tuple[RequestService, str]:
    """A request for the plan as it is now, checked and approved."""
    service = make_service(config)
    request = service.create(
        kind=RequestKind.UPGRADE,
        target="app",
        requester=REQUESTER,
        fingerprint=fingerprint_plan(plan(handle, with_sql=False)),
    )
    service.record_preflight(request.id, actor="migrate-bot", passed=True, summary="ok")
    service.approve(request.id, approver=APPROVER)
    return service, request.id


def test_a_fingerprint_is_stable_until_something_moves(handle: TargetHandle, project: Path) -> None:
    first = fingerprint_plan(plan(handle, with_sql=False))
    assert first == fingerprint_plan(plan(handle, with_sql=False))
    assert first.revision_ids == ("t1", "t2") and first.to_revisions == ("t2",)
    assert describe_changes(first, first) == []

    write_revision(project / "versions", table("t3", down=("t2",)))
    grown = fingerprint_plan(plan(handle, with_sql=False))
    assert describe_changes(first, grown) == [
        "the destination changed from t2 to t3",
        "a new revision t3 was added to the plan",
    ]

    step_one = plan(handle, to="t1", with_sql=False)
    list(run_plan(handle, step_one))
    moved = fingerprint_plan(plan(handle, with_sql=False))
    assert describe_changes(grown, moved) == [
        "the database moved from base (no revision applied) to t1",
        "revision t1 is no longer in the plan",
    ]


def test_an_edited_revision_file_refuses_the_approved_run(
    config: Config, handle: TargetHandle, project: Path
) -> None:
    service, request_id = approved(config, handle)
    revision = project / "versions" / "t2.py"
    revision.write_text(revision.read_text() + "\n# tweaked after approval\n")

    now = fingerprint_plan(plan(handle, with_sql=False))
    with pytest.raises(PlanChangedError) as refusal:
        service.start_run(request_id, actor="migrate-bot", fingerprint_now=now)
    assert str(refusal.value) == (
        f"{request_id}'s plan changed since it was approved: revision t2's file changed."
        " It must be checked and approved again."
    )
    request = service.get(request_id)  # ended: the approval was for another plan
    assert request.state is RequestState.REFUSED
    assert request.plan_changes == ("revision t2's file changed",)
    [refused] = service.store.events(request_id=request_id, kinds=[EventKind.RUN_REFUSED])
    assert refused.data["changes"] == ["revision t2's file changed"]
    assert refused.data["fingerprint"] == now.to_json()
    with pytest.raises(WrongStateError, match="cannot be run"):
        service.start_run(request_id, actor="migrate-bot", fingerprint_now=now)
