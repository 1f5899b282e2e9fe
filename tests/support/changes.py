"""A target with the bundled project and a change file of the test's own, the ``Changes``
service over it, and the simulated application as a process to deploy and replace."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from audit.sqlite_store import SqliteEventStore
from commands.changes.service import Changes, ProposeUpgrade
from commands.config.targets_file import BUNDLED_MIGRATIONS, parse_config
from commands.pipeline import RunContext, propose, run_request
from commands.postgres.database_url import DatabaseUrl
from commands.requests import RequestService
from commands.requests.live_use import warned_findings
from commands.state.vocabulary import RequestKind, RequestState
from tests.support.checks_support import url_text

DEMO_CHANGE = BUNDLED_MIGRATIONS / "changes" / "rename-youtube-id.toml"
ROOT = Path(__file__).resolve().parents[2]


def changes_for(
    database: DatabaseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    quiet_for: str = "10min",
    replica: DatabaseUrl | None = None,
) -> Changes:
    """Target ``app`` on ``database`` (its URLs in the environment, as the pre-flight reads
    them): its changes in ``tmp_path/changes``, holding the bundled rename change with
    ``quiet_for`` as its gate's quiet period."""
    folder = tmp_path / "changes"
    folder.mkdir(exist_ok=True)
    text = DEMO_CHANGE.read_text().replace('quiet_for = "10min"', f'quiet_for = "{quiet_for}"')
    (folder / DEMO_CHANGE.name).write_text(text)
    environ = {"APP_URL": url_text(database)}
    replica_key = ""
    if replica is not None:
        environ["APP_REPLICA_URL"] = url_text(replica)
        replica_key = 'replica_url_env = "APP_REPLICA_URL"'
    config = parse_config(
        textwrap.dedent(
            f"""
            [bot]
            state_path = "state.sqlite3"
            [targets.app]
            database_url_env = "APP_URL"
            script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
            changes_dir = "changes"
            approvers = ["U0BOB"]
            checklist = []
            backup = "file://backups"
            {replica_key}
            """
        ),
        source="test.toml",
        base=tmp_path,
    )
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    return Changes(config, SqliteEventStore(tmp_path / "state.sqlite3"))


@contextmanager
def application(database: DatabaseUrl, profile: str) -> Iterator[subprocess.Popen[str]]:
    """The simulated application (``tests/support/app_process.py``) running ``profile``
    until the block ends: one version of it, deployed."""
    app = subprocess.Popen(
        [sys.executable, "-m", "tests.support.app_process", profile, "--pause", "0.05"],
        env={**os.environ, "APP_DATABASE_URL": url_text(database)},
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "ready"
        yield app
    finally:
        app.terminate()
        app.wait(30)


def proposer_context(changes: Changes) -> RunContext:
    """The run context the fronts build, on the same audit log and targets."""
    return RunContext(
        config=changes.config,
        requests=RequestService(changes.store, changes.config),
        store=changes.store,
        open_target=changes.open_target,
    )


def ordinary_request(changes: Changes, *, to: str | None, requester: str) -> str:
    """``/migrate upgrade app [to REV]``: the request's id."""
    proposal = propose(
        proposer_context(changes),
        kind=RequestKind.UPGRADE,
        target="app",
        goal=to,
        requester=requester,
    )
    return proposal.request.id


def proposer(changes: Changes) -> ProposeUpgrade:
    """How the fronts ask a migrate phase's upgrade: the ordinary request, with its
    pre-flight, on the same audit log."""
    context = proposer_context(changes)

    def propose_upgrade(target: str, revision: str, requester: str, origin: Mapping) -> str:
        proposal = propose(
            context,
            kind=RequestKind.UPGRADE,
            target=target,
            goal=revision,
            requester=requester,
            origin=origin,
        )
        return proposal.request.id

    return propose_upgrade


def approve_and_run(changes: Changes, request_id: str) -> RequestState:
    """Bob approves the request (acknowledging the live-use evidence it shows, if any); the
    pipeline runs it; its final state."""
    context = proposer_context(changes)
    requests = context.requests
    if warned_findings(requests.get(request_id)):
        requests.acknowledge_live_use(request_id, actor="U0BOB")
    requests.approve(request_id, approver="U0BOB")
    return run_request(context, request_id).state
