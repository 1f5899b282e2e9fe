"""The runbook's rename pattern end to end, on a real PostgreSQL with pg_stat_statements,
a real streaming replica and the application as a real process replaced at each deploy.

The bundled change (``migrations/changes/rename-youtube-id.toml``) with a
quiet period of seconds: add the column; the application writes both; the
backfill copies; the application reads the new one; the gate watches the old
column go quiet; the old column is dropped. The contract cannot be asked, and
an ordinary upgrade stops before its revisions, while the application still
uses the old column; both are allowed once it has been quiet long enough.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.backfill.model import BackfillState
from commands.changes.ledger import ChangeRefusedError
from commands.changes.model import ChangeState
from commands.changes.service import Changes
from commands.demo.data import fill_demo_data
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.requests import Request
from commands.state.vocabulary import EventKind, RequestState
from tests.support.changes import (
    application,
    approve_and_run,
    changes_for,
    ordinary_request,
    proposer,
    proposer_context,
)
from tests.support.checks_support import upgrade
from tests.support.polling import wait_for
from tests.support.replica import on_replica

BEFORE = "b41e9d3a5c32"  # the revision before the change's first
EXPAND, CONTRACT = "0e8f2a6b9d43", "4f1c7a9e2b87"
FIRST_HELD = "5a7c1e3f0b54"  # the first revision of the contract phase's range


def _ordinary_upgrade(changes: Changes, to: str | None = None) -> Request:
    """``/migrate upgrade app [to REV]`` as anyone asks it: the request it makes."""
    return proposer_context(changes).requests.get(
        ordinary_request(changes, to=to, requester="U0CAROL")
    )


def _changes_check(request: Request) -> dict:
    assert request.preflight is not None
    return next(c for c in request.preflight.checks if c["name"] == "changes")


def test_the_rename_pattern_runs_end_to_end_through_its_deploys(
    pgss_db: DatabaseUrl,
    pgss_replica: DatabaseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    standby = on_replica(pgss_replica, pgss_db)
    changes = changes_for(pgss_db, tmp_path, monkeypatch, quiet_for="3s", replica=standby)
    handle = changes.open_target(changes.config.target("app"))
    upgrade(handle, BEFORE)
    fill_demo_data(pgss_db, rows=4000)
    with connect(pgss_db) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
    ask = proposer(changes)

    with application(pgss_db, "videos-old"):  # the application as it is: the old column only
        change = changes.start("app", "rename-youtube-id", by="U0ALICE")
        assert (change.id, change.current, change.started_by) == ("C-1", 0, "U0ALICE")
        # an ordinary upgrade to head stops before the revisions of the later phases
        ordinary = _ordinary_upgrade(changes)
        assert ordinary.goal == EXPAND and ordinary.to_revisions == (EXPAND,)
        check = _changes_check(ordinary)
        assert check["verdict"] == "pass" and check["summary"].startswith(
            f"the upgrade stops before {FIRST_HELD} belongs to phase 6 (drop-old) of change"
            " rename-youtube-id (C-1), which waits for phase 1 (add-column, migrate)"
        )
        proposer_context(changes).requests.cancel(ordinary.id, actor="U0CAROL")
        change, request_id = changes.ask(change.id, by="U0ALICE", propose=ask)
        assert approve_and_run(changes, request_id) is RequestState.SUCCEEDED
        change = changes.refresh(change.id)
        assert change.current == 1 and change.phases[0].done is not None
        how = change.phases[0].done.data["how"]
        assert how == f"{EXPAND} is applied ({request_id} asked for it)"

    with application(pgss_db, "videos-both"):  # deploy: writes both, reads the old
        change = changes.confirm("rename-youtube-id", "write-both", by="U0ALICE", via="slack")
        assert change.phases[1].confirmed is not None
        assert change.phases[1].confirmed.by == "U0ALICE" and change.current == 2
        with pytest.raises(ChangeRefusedError, match=r"phase 3 \(copy\) is not done"):
            changes.confirm("rename-youtube-id", "read-new", by="deploy-pipeline", via="http")
        change, run_id = changes.ask(change.id, by="U0ALICE", propose=ask)
        changes.backfills.approve(run_id, approver="U0BOB")
        assert changes.backfills.engine(run_id).run(run_id).state is BackfillState.DONE
        change = changes.refresh(change.id)
        assert change.current == 3
        # "read-new" confirmed while the running version still reads youtube_id
        change = changes.confirm(change.id, "4", by="U0ALICE", via="slack")
        assert change.current == 4
        wait_for(lambda: _used_again(changes, change.id), what="the gate to see youtube_id used")
        with pytest.raises(ChangeRefusedError) as refused:
            changes.ask(change.id, by="U0ALICE", propose=ask)
        assert str(refused.value).startswith(
            "phase 6 (drop-old) cannot be asked yet: phase 5 (old-column-unused), a gate, does"
            " not hold: nothing reads or writes videos.youtube_id for 3.0 s: last used between"
        )
        refused_upgrade = _ordinary_upgrade(changes, to=CONTRACT)
        assert refused_upgrade.preflight is not None and not refused_upgrade.preflight.passed
        check = _changes_check(refused_upgrade)
        assert check["verdict"] == "fail" and check["summary"].startswith(FIRST_HELD)
        assert "waits for phase 5 (old-column-unused, gate)" in check["summary"]

    with application(pgss_db, "videos-new"):  # deploy: the new column only
        change = wait_for(
            lambda: (c := changes.refresh(change.id)).current == 5 and c,
            timeout=60,
            what="three quiet seconds",
        )
        gate = change.phases[4]
        assert gate.done is not None and gate.checks[-1].data["held"]
        assert _changes_check(_ordinary_upgrade(changes, to=CONTRACT))["verdict"] == "pass"
        change, request_id = changes.ask(change.id, by="U0ALICE", propose=ask)
        assert approve_and_run(changes, request_id) is RequestState.SUCCEEDED
        change = changes.refresh(change.id)
    assert change.state is ChangeState.FINISHED
    with connect(pgss_db) as conn:
        missing = conn.execute(
            "SELECT count(*) FROM videos WHERE youtube_video_id IS NULL"
        ).fetchone()
        assert missing == (0,)
    kinds = [e.kind for e in changes.store.events(request_id=change.id)]
    assert kinds.count(EventKind.CHANGE_PHASE_DONE) == 6
    assert kinds[-1] == EventKind.CHANGE_FINISHED


def _used_again(changes: Changes, change_id: str) -> bool:
    """Whether the gate has seen the old column used since its first sample."""
    changes.refresh(change_id)
    conditions = changes.gate_conditions(change_id)
    return bool(conditions) and "last used between" in conditions[0].detail
