"""A fleet for tests and benches: member databases on one PostgreSQL server, a project,
a targets file with a fleet target, and its members' variable set.

``fleet_target`` writes the project and the file under ``root``, creates one
database per member (dropped by ``drop``), and sets ``$TENANT_DATABASE_URLS``
in ``os.environ`` (the caller restores it: ``monkeypatch`` or ``drop``).
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from audit.store import EventStore
from commands.config.targets_file import CONFIG_ENV, Config, parse_config
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.revision_graph import Direction
from commands.pipeline import Proposal, RunContext, RunOutcome, propose, run_request
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.requests import RequestService, open_requests
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import RequestKind
from commands.targets import open_target
from tests.support.alembic_projects import Rev, table, write_project
from tests.support.databases import create_database, drop_database

MEMBERS_ENV = "TENANT_DATABASE_URLS"
REQUESTER = "U0ALICE"
APPROVER = "U0BOB"
# a short history: three tables, one after the other
HISTORY = [table("accounts"), table("invoices", ("accounts",)), table("payments", ("invoices",))]
# three revisions, the second of which sleeps in a member whose database has the marker
# table (``slow_down``): a stop or a kill lands inside it, on that member only
SLOW_REVISION = "orders_total"
SLOW_HISTORY = [
    table("orders"),
    Rev(
        SLOW_REVISION,
        ("orders",),
        (
            "ALTER TABLE orders ADD COLUMN total numeric",
            "DO $$ BEGIN IF to_regclass('public.slow_marker') IS NOT NULL"
            " THEN PERFORM pg_sleep(120); END IF; END $$",
        ),
        ("ALTER TABLE orders DROP COLUMN total",),
        "orders get a total",
    ),
    table("refunds", (SLOW_REVISION,)),
]


@dataclass
class Fleet:
    """Target ``tenants``: ``members`` (name → database), the bot's pieces for it."""

    config: Config
    server: DatabaseUrl
    members: dict[str, DatabaseUrl]
    store: EventStore
    requests: RequestService
    environ: dict[str, str] = field(default_factory=dict)

    def context(self) -> RunContext:
        return RunContext(config=self.config, requests=self.requests, store=self.store)

    def run(self, request_id: str, *, cancel: threading.Event | None = None) -> RunOutcome:
        """``run_request`` in this fleet's context."""
        return run_request(self.context(), request_id, cancel=cancel)

    def approved(
        self,
        goal: str | None = None,
        *,
        kind: RequestKind = RequestKind.UPGRADE,
        members: Sequence[str] | None = None,
    ) -> Proposal:
        proposal = self.propose(goal, kind=kind, members=members)
        self.requests.approve(proposal.request.id, approver=APPROVER)
        return proposal

    def propose(
        self,
        goal: str | None = None,
        *,
        kind: RequestKind = RequestKind.UPGRADE,
        members: Sequence[str] | None = None,
    ) -> Proposal:
        return propose(
            self.context(),
            kind=kind,
            target="tenants",
            goal=goal,
            requester=REQUESTER,
            members=members,
        )

    def member(self, name: str) -> DatabaseUrl:
        return self.members[name]

    def revision_of(self, name: str) -> tuple[str, ...]:
        handle = open_target(self.config.target(f"tenants.{name}"))
        return AlembicRunner.for_target(handle).current()

    def move(self, name: str, revision: str) -> None:
        """Apply one revision on one member by hand, as plain Alembic would (a member that
        drifts)."""
        handle = open_target(self.config.target(f"tenants.{name}"))
        AlembicRunner.for_target(handle).apply(revision, Direction.UP)

    def execute(self, name: str, statement: str) -> None:
        with connect(self.members[name]) as conn:
            conn.execute(statement)

    def slow_down(self, name: str) -> None:
        """Make ``SLOW_HISTORY``'s second revision sleep two minutes on member ``name``."""
        self.execute(name, "CREATE TABLE slow_marker (id int)")

    def drop(self) -> None:
        """Drop the members' databases and forget their variable."""
        for database in self.members.values():
            drop_database(self.server, database)
        for name in self.environ:
            os.environ.pop(name, None)


def fleet_target(
    root: Path,
    server: DatabaseUrl,
    names: Sequence[str],
    *,
    revisions: list[Rev] | None = None,
    keys: str = "",
) -> Fleet:
    """A targets file under ``root`` for fleet ``tenants`` (one new database per member)."""
    location = write_project(root / "project", revisions or HISTORY)
    members = {name: create_database(server, "fleet") for name in names}
    environ = {MEMBERS_ENV: json.dumps({name: db.text() for name, db in members.items()})}
    os.environ.update(environ)
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"
        ops_channel = "C0OPS"

        [targets.tenants]
        members_env = "{MEMBERS_ENV}"
        script_location = "{location.as_posix()}"
        approvers = ["{APPROVER}"]
        checklist = []
        backup = "file://backups"
        """
    ) + textwrap.dedent(keys)
    path = root / "migrate-bot.toml"
    path.write_text(text)
    config = parse_config(text, source=str(path), base=root)
    store = open_audit_log(config.bot.state)
    return Fleet(config, server, members, store, open_requests(config), environ)


@contextmanager
def fleet_here(
    root: Path,
    server: DatabaseUrl,
    names: Sequence[str],
    monkeypatch: pytest.MonkeyPatch,
    *,
    keys: str = "",
) -> Iterator[Fleet]:
    """``fleet_target`` as the terminal finds it: its file named by $MIGRATE_BOT_CONFIG and
    ``root`` the working folder, for the ``with`` block (the databases dropped after)."""
    made = fleet_target(root, server, names, keys=keys)
    monkeypatch.setenv(CONFIG_ENV, str(root / "migrate-bot.toml"))
    monkeypatch.chdir(root)
    try:
        yield made
    finally:
        made.drop()
