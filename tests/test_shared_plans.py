"""Plans kept in the shared state: a plan made by one worker is found, whole, by another;
an old one is gone; the schema comes with them (the bot's second Alembic revision)."""

from __future__ import annotations

from pathlib import Path

from bot.flows.plan_cache import KEEP_S, SharedPlans
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction, Revision
from commands.state.location import StateLocation
from commands.state.schema.upgrade import current_revision
from commands.state.shared import shared_state, state_url
from tests.support.shared_state import STATE_URL_ENV

PLAN = Plan(
    target="prod",
    direction=Direction.UP,
    current=("aaa1",),
    destination=("bbb2",),
    revisions=(
        Revision(
            id="bbb2",
            down_revisions=("aaa1",),
            dependencies=(),
            branch_labels=("main",),
            message="add a column",
            path="/srv/app/versions/bbb2.py",
        ),
    ),
    sql={"bbb2": "ALTER TABLE t ADD COLUMN c text;\n"},
)


def test_a_plan_kept_by_one_worker_is_found_whole_by_another(shared_state_url: str) -> None:
    location = StateLocation(path=Path("unused"), url_env=STATE_URL_ENV)
    shared = shared_state(location)
    assert shared is not None
    assert current_revision(state_url(location)) == "0005"
    now = [1_000_000.0]
    planner = SharedPlans(shared.pool, clock=lambda: now[0])
    other = SharedPlans(shared.pool, clock=lambda: now[0])
    ref = planner.put(PLAN)
    assert ref.startswith("P-")
    assert other.get(ref) == PLAN
    assert other.get("P-unknown") is None
    now[0] += KEEP_S + 1
    assert other.get(ref) is None
