"""Starting a change from its file, confirming deploys, gates that end on their evidence,
refusals that say what a phase waits for, and the rounds' reminders of stale phases."""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commands.changes.ledger import ChangeRefusedError
from commands.changes.model import ChangeState
from commands.changes.rounds import change_round
from commands.errors import ConfigError
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import EventKind
from tests.support.changes import changes_for

SMALL = """
description = "a deploy, a gate on SQL, a migration"
stale_after = "1h"

[[phases]]
name = "ship"
deploy = "the application no longer reads legacy_flags"

[[phases]]
name = "nothing-left"
[phases.gate]
sql = ["SELECT count(*) = 0 FROM pg_class WHERE relname = 'legacy_flags'"]

[[phases]]
name = "expand"
migrate = "{revision}"
"""


def _write(tmp_path: Path, name: str, revision: str = "0e8f2a6b9d43") -> None:
    (tmp_path / "changes" / f"{name}.toml").write_text(
        textwrap.dedent(SMALL.format(revision=revision))
    )


def test_a_change_starts_from_its_file_and_its_gate_ends_on_its_evidence(
    fresh_db: DatabaseUrl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = changes_for(fresh_db, tmp_path, monkeypatch)
    _write(tmp_path, "small", revision="0e8f")  # a prefix: recorded as the full id
    change = changes.start("app", "small", by="U0ALICE", origin={"channel": "C0OPS"})
    assert change.current == 0 and change.phases[2].spec.revision == "0e8f2a6b9d43"
    assert change.origin == {"channel": "C0OPS"}
    with pytest.raises(ChangeRefusedError, match="small is already in flight on app"):
        changes.start("app", "small", by="U0ALICE")
    with pytest.raises(ChangeRefusedError, match=r"cannot be asked yet: phase 1 \(ship\) waits"):
        changes.ask(change.id, by="U0ALICE", propose=_never)
    change = changes.confirm("small", "1", by="U0CAROL", via="cli")
    assert change.current == 2  # the gate held at once: its SQL is true
    gate = change.phases[1]
    assert gate.done is not None and gate.checks[-1].data["conditions"][0]["held"]
    with pytest.raises(ChangeRefusedError, match="it is done already"):
        changes.confirm(change.id, "ship", by="U0CAROL", via="cli")
    change = changes.abandon("small", by="U0BOB", reason="not needed")
    assert change.state is ChangeState.ABANDONED


@pytest.mark.parametrize(
    ("revision", "problem"),
    [
        ("ffffffffffff", "phases[2].migrate"),
        ("3f9a1c2e7b10", None),  # fine on its own: the first migrate phase
    ],
)
def test_a_change_naming_a_revision_not_in_the_project_is_refused_with_the_key(
    fresh_db: DatabaseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    revision: str,
    problem: str | None,
) -> None:
    changes = changes_for(fresh_db, tmp_path, monkeypatch)
    _write(tmp_path, "small", revision=revision)
    if problem is None:
        assert changes.start("app", "small", by="U0ALICE").id == "C-1"
        return
    with pytest.raises(ConfigError) as caught:
        changes.start("app", "small", by="U0ALICE")
    assert caught.value.key == problem and caught.value.path.endswith("small.toml")
    with pytest.raises(ConfigError, match=r"missing\.toml: does not exist"):
        changes.start("app", "missing", by="U0ALICE")
    assert changes.store.events() == []


def test_a_phase_waiting_past_stale_after_reminds_once(
    fresh_db: DatabaseUrl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = changes_for(fresh_db, tmp_path, monkeypatch)
    _write(tmp_path, "small")
    change = changes.start("app", "small", by="U0ALICE")
    assert change_round(changes).stale == []
    later = datetime.now(UTC) + timedelta(hours=2)
    changes = dataclasses.replace(changes, clock=lambda: later)
    reminded = change_round(changes).stale
    assert [c.id for c in reminded] == [change.id]
    assert reminded[0].phases[0].reminded is not None
    assert change_round(changes).stale == []  # once per phase
    kinds = [e.kind for e in changes.store.events(request_id=change.id)]
    assert kinds.count(EventKind.CHANGE_REMINDED) == 1


def _never(target: str, revision: str, requester: str, origin: object) -> str:
    raise AssertionError("nothing may be proposed here")
