"""A target for pipeline tests: a real project on disk, a real database, a targets file."""

from __future__ import annotations

import os
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audit.store import EventStore
from commands.config.targets_file import BUNDLED_MIGRATIONS, Config, parse_config
from commands.pipeline import Proposal, RunContext, RunOutcome, RunUpdate, propose, run_request
from commands.postgres.database_url import DatabaseUrl
from commands.requests import RequestService, open_requests
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import RequestKind
from tests.support.alembic_projects import Rev, write_project

REQUESTER = "U0ALICE"
APPROVER = "U0BOB"

HOT_TABLE = Rev(
    id="hot001",
    up_sql=("CREATE TABLE hot (id bigserial PRIMARY KEY, v int)",),
    down_sql=("DROP TABLE hot",),
    message="create hot",
)
ALTER_HOT = Rev(
    id="alter2",
    down=("hot001",),
    up_sql=("ALTER TABLE hot ADD COLUMN c int",),
    down_sql=("ALTER TABLE hot DROP COLUMN c",),
    message="add hot.c",
)
SLOW = Rev(
    id="slow03",
    down=("alter2",),
    up_sql=("CREATE TABLE half_done (id int)", "SELECT pg_sleep(60)"),
    down_sql=("DROP TABLE half_done",),
    message="a revision that takes a minute",
)


@dataclass
class PipelineTarget:
    """Target ``app``: a project with ``revisions`` on ``database``; the bot's pieces for it."""

    config: Config
    database: DatabaseUrl
    store: EventStore
    requests: RequestService

    def context(self) -> RunContext:
        return RunContext(config=self.config, requests=self.requests, store=self.store)

    def run(
        self,
        request_id: str,
        *,
        on_update: Callable[[RunUpdate], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> RunOutcome:
        """``run_request`` in this target's context."""
        return run_request(
            self.context(), request_id, on_update=on_update or (lambda _u: None), cancel=cancel
        )

    def approved(
        self, goal: str | None = None, kind: RequestKind = RequestKind.UPGRADE
    ) -> Proposal:
        proposal = propose(
            self.context(),
            kind=kind,
            target="app",
            goal=goal,
            requester=REQUESTER,
        )
        self.requests.approve(proposal.request.id, approver=APPROVER)
        return proposal


def pipeline_target(
    root: Path,
    database: DatabaseUrl,
    revisions: list[Rev] | None,
    keys: str = "",
    *,
    backup: str = "file://backups",
) -> PipelineTarget:
    """A targets file under ``root`` for target ``app`` on ``database`` ($APP_DATABASE_URL).

    Its project is ``revisions`` written under ``root``, or the bundled one when None.
    """
    location = (
        write_project(root / "project", revisions) if revisions is not None else BUNDLED_MIGRATIONS
    )
    os.environ["APP_DATABASE_URL"] = database.text()
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"
        ops_channel = "C0OPS"

        [targets.app]
        database_url_env = "APP_DATABASE_URL"
        script_location = "{location.as_posix()}"
        approvers = ["{APPROVER}"]
        checklist = []
        backup = "{backup}"
        """
    ) + textwrap.dedent(keys)
    path = root / "migrate-bot.toml"
    path.write_text(text)
    config = parse_config(text, source=str(path), base=root)
    return PipelineTarget(config, database, open_audit_log(config.bot.state), open_requests(config))
