"""Stop the run on a fleet: no new member starts, and the members inside a revision are
aborted at a revision boundary (PostgreSQL rolls the revision in flight back), on real
member databases and real Alembic children.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from commands.postgres.database_url import DatabaseUrl
from commands.state.audit_reading import verify
from commands.state.vocabulary import MemberState, RequestState
from tests.support.fleet_support import SLOW_HISTORY, SLOW_REVISION, Fleet, fleet_target
from tests.support.polling import wait_for

MEMBERS = ("s1", "s2", "s3", "s4", "s5")
SLOW = ("s2", "s3")  # the second wave's first two: both inside their sleeping revision
KEYS = 'waves = ["1", "100%"]\nconcurrency = 2\nmax_failures = 1\n'
TIMEOUT = 120


@pytest.fixture
def fleet(pg_server: DatabaseUrl, tmp_path: Path) -> Iterator[Fleet]:
    made = fleet_target(tmp_path, pg_server, MEMBERS, revisions=SLOW_HISTORY, keys=KEYS)
    try:
        yield made
    finally:
        made.drop()


def test_stop_starts_no_new_member_and_aborts_the_running_ones_at_a_revision_boundary(
    fleet: Fleet,
) -> None:
    for member in SLOW:
        fleet.slow_down(member)
    request_id = fleet.approved().request.id
    cancel = threading.Event()

    def both_inside() -> bool:
        members = fleet.requests.get(request_id).members
        return all(members[m].revision_running == SLOW_REVISION for m in SLOW)

    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(fleet.run, request_id, cancel=cancel)
        wait_for(both_inside, TIMEOUT, "both slow members inside their sleeping revision")
        cancel.set()  # what Stop the run sets
        outcome = run.result(timeout=TIMEOUT)

    request = fleet.requests.get(request_id)
    assert outcome.state is request.state is RequestState.ABORTED
    assert "the run was stopped" in (request.closure.reason or "")
    states = {name: member.state for name, member in request.members.items()}
    assert states == {
        "s1": MemberState.SUCCEEDED,
        "s2": MemberState.ABORTED,
        "s3": MemberState.ABORTED,
        "s4": MemberState.NOT_STARTED,
        "s5": MemberState.NOT_STARTED,
    }
    assert fleet.revision_of("s1") == ("refunds",)
    for member in SLOW:  # rolled back to the boundary before the revision in flight
        assert request.members[member].database_revisions == ("orders",)
        assert fleet.revision_of(member) == ("orders",)
    for member in ("s4", "s5"):
        assert fleet.revision_of(member) == ()
    assert verify(fleet.store).ok
